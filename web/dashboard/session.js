// Who is looking. In the embedded default the gateway signs a dev token for a chosen role;
// in production the city's identity provider does, and this page is given its token.
const KEY = "tongxin.dashboard.session";

export function current() {
  try {
    const session = JSON.parse(sessionStorage.getItem(KEY));
    return session && session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

export async function signIn(role) {
  const response = await fetch("/dashboard/sign-in", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ role }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail ?? response.statusText);
  const session = { role, token: body.token, expiresAt: Date.now() + body.expires_in * 1000 };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}
