import { useEffect } from "react";
import { Link, navigate, useLocation } from "./router";
import { LivePage } from "./pages/LivePage";
import { LogsPage } from "./pages/LogsPage";
import { WarzonePage } from "./pages/WarzonePage";

export function App() {
  const { path } = useLocation();
  const route = path.replace(/\/+$/, "") || "/";

  useEffect(() => {
    if (route === "/") navigate("/live", { replace: true });
  }, [route]);

  useEffect(() => {
    document.title = route === "/logs" ? "Logs — Usactar" : route === "/warzone" ? "War zone — Usactar" : "Live — Usactar";
  }, [route]);

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">
          Usactar <small>Qatar 2022 predictions</small>
        </span>
        <nav aria-label="Pages">
          <Link href="/live" aria-current={route === "/live" ? "page" : undefined}>
            Live
          </Link>
          <Link href="/logs" aria-current={route === "/logs" ? "page" : undefined}>
            Logs
          </Link>
          <Link href="/warzone" aria-current={route === "/warzone" ? "page" : undefined}>
            War zone
          </Link>
        </nav>
      </header>
      <main id="main" tabIndex={-1} className={route === "/warzone" ? "wide" : undefined}>
        {route === "/live" || route === "/" ? (
          <LivePage />
        ) : route === "/logs" ? (
          <LogsPage />
        ) : route === "/warzone" ? (
          <WarzonePage />
        ) : (
          <section className="card">
            <h1>Not found</h1>
            <p>
              No page at <code>{path}</code>. Try <Link href="/live">Live</Link> or <Link href="/logs">Logs</Link>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}
