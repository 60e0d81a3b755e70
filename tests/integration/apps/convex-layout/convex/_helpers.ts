// A helper module: function files import it; starting with `_`, it is not a function module
// itself, so `hidden` below is never registered.
import { query } from "./_generated/server.js";

export function format(author: string, body: string): string {
  return `${author}: ${body}`;
}

export const hidden = query({ args: {}, handler: async () => "must not be callable" });
