import { httpRouter } from "convex/server";
import { inHttp, requestInHttp } from "./meta";

const http = httpRouter();
http.route({ path: "/meta", method: "GET", handler: inHttp });
http.route({ path: "/request", method: "POST", handler: requestInHttp });
export default http;
