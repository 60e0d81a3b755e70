/* cmd_init: `vireo init [dir]` scaffolds an app: vireo/schema.ts with a tasks table,
 * vireo/tasks.ts with a query and mutations, the generated import shims and a .gitignore entry
 * for local state. Leaves an existing vireo/ folder untouched. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "base/banned.h"

static const char init_usage[] =
    "usage: vireo init [dir]\n"
    "\n"
    "Scaffolds a Vireo app in dir (default .): vireo/schema.ts, vireo/tasks.ts and\n"
    "vireo/_generated/. Does nothing if dir/vireo already exists.\n";

static const char schema_ts[] =
    "import { defineSchema, defineTable, v } from \"./_generated/server\";\n"
    "\n"
    "export default defineSchema({\n"
    "  tasks: defineTable({\n"
    "    title: v.string(),\n"
    "    done: v.boolean(),\n"
    "  }).index(\"by_done\", [\"done\"]),\n"
    "});\n";

static const char tasks_ts[] =
    "import { query, mutation, internalQuery, v } from \"./_generated/server\";\n"
    "\n"
    "// Every task, newest first. Clients subscribed to it update live.\n"
    "export const list = query({\n"
    "  args: {},\n"
    "  handler: async (ctx) => {\n"
    "    return await ctx.db.query(\"tasks\").order(\"desc\").collect();\n"
    "  },\n"
    "});\n"
    "\n"
    "export const listOpen = query({\n"
    "  args: {},\n"
    "  handler: async (ctx) => {\n"
    "    return await ctx.db\n"
    "      .query(\"tasks\")\n"
    "      .withIndex(\"by_done\", (q) => q.eq(\"done\", false))\n"
    "      .collect();\n"
    "  },\n"
    "});\n"
    "\n"
    "export const create = mutation({\n"
    "  args: { title: v.string() },\n"
    "  handler: async (ctx, { title }) => {\n"
    "    return await ctx.db.insert(\"tasks\", { title, done: false });\n"
    "  },\n"
    "});\n"
    "\n"
    "export const toggle = mutation({\n"
    "  args: { id: v.id(\"tasks\") },\n"
    "  handler: async (ctx, { id }) => {\n"
    "    const task = await ctx.db.get(id);\n"
    "    if (!task) throw new Error(`no task ${id}`);\n"
    "    await ctx.db.patch(id, { done: !task.done });\n"
    "  },\n"
    "});\n"
    "\n"
    "export const remove = mutation({\n"
    "  args: { id: v.id(\"tasks\") },\n"
    "  handler: async (ctx, { id }) => {\n"
    "    await ctx.db.delete(id);\n"
    "  },\n"
    "});\n"
    "\n"
    "// Internal functions are not callable by clients; `vireo run` and other functions can.\n"
    "export const count = internalQuery({\n"
    "  args: {},\n"
    "  handler: async (ctx) => (await ctx.db.query(\"tasks\").collect()).length,\n"
    "});\n";

static int append_gitignore(const char *root)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/.gitignore", root);
    FILE *f = fopen(path, "a+");
    if (!f)
        return -errno;
    char line[256];
    int found = 0;
    rewind(f);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, ".vireo/", 7) || !strncmp(line, "/.vireo", 7))
            found = 1;
    if (!found)
        fputs(".vireo/\n", f);
    return fclose(f) == 0 ? 0 : -errno;
}

int cmd_init(int argc, char **argv)
{
    const char *dir = ".";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(init_usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "vireo init: unknown option %s\n", argv[i]);
            return 2;
        }
        dir = argv[i];
    }
    int r = mkdir_p(dir, 0755);
    if (r < 0) {
        fprintf(stderr, "vireo init: cannot create %s: %s\n", dir, strerror(-r));
        return 1;
    }
    struct app_paths p;
    if (app_paths_init(&p, dir) < 0) {
        fprintf(stderr, "vireo init: cannot open %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (strcmp(p.functions_rel, "vireo") != 0 || p.layout_err[0]) {
        fprintf(stderr,
                "vireo init: %s is a Convex project (convex/ or convex.json): `vireo dev` serves "
                "it as it is; nothing scaffolded\n",
                p.root);
        return 1;
    }
    if (path_exists(p.functions)) {
        fprintf(stderr, "vireo init: %s already exists; nothing scaffolded\n", p.functions);
        return 1;
    }
    struct buf err = BUF_INIT(4096);
    char path[4400];
    r = mkdir_p(p.functions, 0755);
    if (r == 0) {
        snprintf(path, sizeof path, "%s/schema.ts", p.functions);
        r = write_file(path, schema_ts, sizeof schema_ts - 1, 0644);
    }
    if (r == 0) {
        snprintf(path, sizeof path, "%s/tasks.ts", p.functions);
        r = write_file(path, tasks_ts, sizeof tasks_ts - 1, 0644);
    }
    if (r == 0)
        r = append_gitignore(p.root);
    if (r < 0) {
        fprintf(stderr, "vireo init: cannot write in %s: %s\n", p.root, strerror(-r));
        buf_release(&err);
        return 1;
    }
    if (app_write_generated(&p, &err) < 0) {
        fprintf(stderr, "vireo init: %s\n", err.data);
        buf_release(&err);
        return 1;
    }
    buf_release(&err);
    printf("created %s/vireo/schema.ts and %s/vireo/tasks.ts\n\n", p.root, p.root);
    printf("next:\n  cd %s && vireo dev\n  vireo run tasks:create '{\"title\":\"Buy milk\"}'\n"
           "  vireo run tasks:list\n",
           dir);
    return 0;
}
