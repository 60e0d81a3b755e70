import { mutation } from "./_generated/server";

export const sleepy = mutation({
    args: {},
    handler: async () => {
        await new Promise((r) => setTimeout(r, 10));
        return "slept";
    },
});
