// The page of tests/e2e/convex_auth.test.mjs: a ConvexReactClient on this page's origin (the
// Vireo server), ConvexAuthProvider and useAuthActions from the real @convex-dev/auth/react, a
// password form (sign up / sign in), the signed-in user from users:viewer, sign out. Bundled with
// esbuild by the test into public/app.js.
import { StrictMode, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { ConvexReactClient, useConvexAuth, useQuery } from "convex/react";
import { ConvexAuthProvider, useAuthActions } from "@convex-dev/auth/react";

const convex = new ConvexReactClient(location.origin);

function App() {
  const { isLoading, isAuthenticated } = useConvexAuth();
  const { signIn, signOut } = useAuthActions();
  const viewer = useQuery("users:viewer" as any, {});
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setError(null);
    try {
      await signIn("password", new FormData(e.currentTarget));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const state = isLoading ? "loading" : isAuthenticated ? "signed-in" : "signed-out";
  return (
    <main id="app" data-state={state}>
      {isAuthenticated ? (
        <section>
          <p>
            Signed in as <span id="email">{viewer?.email ?? ""}</span> (<span id="user">{viewer?.userId ?? ""}</span>)
          </p>
          <button id="signout" onClick={() => void signOut()}>Sign out</button>
        </section>
      ) : (
        <form id="form" onSubmit={submit}>
          <input id="email-input" name="email" type="email" placeholder="email" />
          <input id="password-input" name="password" type="password" placeholder="password" />
          <select id="flow" name="flow" defaultValue="signUp">
            <option value="signUp">sign up</option>
            <option value="signIn">sign in</option>
          </select>
          <button id="submit" type="submit">Go</button>
          {error && <p id="error">{error}</p>}
        </form>
      )}
    </main>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ConvexAuthProvider client={convex}>
      <App />
    </ConvexAuthProvider>
  </StrictMode>,
);
