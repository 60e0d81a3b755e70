// The page's entry: a ConvexReactClient pointed at the Vireo server that serves this page (its
// own origin), or at the deployment named by `?convex=URL` when the page is served elsewhere.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ConvexProvider, ConvexReactClient } from "convex/react";
import App from "./App";

const deploymentUrl = new URLSearchParams(location.search).get("convex") ?? location.origin;
const convex = new ConvexReactClient(deploymentUrl);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ConvexProvider client={convex}>
      <App />
    </ConvexProvider>
  </StrictMode>,
);
