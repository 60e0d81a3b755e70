import { httpRouter } from "convex/server";
import { inHttp } from "./meta";

const http = httpRouter();
http.route({ path: "/meta", method: "GET", handler: inHttp });
export default http;
