// Share links: the program travels in the URL fragment (never sent to a server), as base64url of
// its UTF-8 text: #json=<...> or #source=<...>, with &run to run it when the page opens.

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

export function shareUrl(format, text, run) {
  const base = location.href.split("#")[0];
  return `${base}#${format}=${toBase64Url(text)}${run ? "&run" : ""}`;
}

// {format, text, run} from the current fragment, or null when it holds no program.
export function readFragment(hash = location.hash) {
  const parts = hash.replace(/^#/, "").split("&");
  let found = null;
  let run = false;
  for (const part of parts) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (key === "run") run = true;
    else if ((key === "json" || key === "source") && eq > 0) {
      try {
        found = { format: key, text: fromBase64Url(part.slice(eq + 1)) };
      } catch {
        found = null;
      }
    }
  }
  return found && { ...found, run };
}
