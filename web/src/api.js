// The page's calls to gradserve. The API key (asked for when the server answers 401) is kept for
// this tab only (sessionStorage) and sent as a Bearer token on every call.

const KEY = "gradserve-api-key";

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

// {status, body}: the answer or problem as parsed JSON (a non-JSON body becomes a problem).
export async function call(path, body) {
  const init = body === undefined
    ? { headers: headers() }
    : { method: "POST", headers: headers({ "Content-Type": "application/json" }), body };
  const response = await fetch(path, init);
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: { title: `HTTP ${response.status}`, detail: text } };
  }
}
