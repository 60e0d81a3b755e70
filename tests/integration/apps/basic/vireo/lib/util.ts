import { query } from "../_generated/server";

export const hello = query({ args: {}, handler: async () => "hello from lib/util" });

export default query({ args: {}, handler: async () => "default export" });
