/* dotenv: reads a `.env.local` file (dotenv syntax, as Vite, Next.js and `npx convex dev`
 * write it) into a JSON object of strings: NAME=value lines, `export ` prefixes, blank lines and
 * `#` comments; values bare (an inline ` #` starts a comment; surrounding blanks trimmed), in
 * double quotes (\n, \r, \t, \", \\ escapes; may span lines), or in single quotes or backticks
 * (taken literally). A later line wins. Names are checked by the shard (shard_set_env_file), not
 * here. Malformed lines are reported by number, never with their content (they may hold
 * secrets). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/cli.h"
#include "base/banned.h"

#define DOTENV_MAX (1u << 20)

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

json_t *dotenv_parse(const char *p, size_t n, const char *file)
{
    json_t *env = json_object();
    struct buf val = BUF_INIT(BUF_NOLIMIT);
    size_t i = 0;
    int line = 1;
    while (i < n) {
        int start_line = line;
        while (i < n && blank(p[i]))
            i++;
        if (i < n && p[i] == '\n') {
            i++, line++;
            continue;
        }
        if (i < n && p[i] == '#')
            goto skip_line;
        if (n - i > 7 && !memcmp(p + i, "export", 6) && blank(p[i + 6])) {
            i += 7;
            while (i < n && blank(p[i]))
                i++;
        }
        size_t name_at = i;
        /* a name is printable: a control byte (a NUL among them) ends it and spoils the line */
        while (i < n && p[i] != '=' && (unsigned char)p[i] > ' ' && p[i] != 0x7f)
            i++;
        size_t name_len = i - name_at;
        while (i < n && blank(p[i]))
            i++;
        if (i >= n || p[i] != '=' || name_len == 0) {
            log_warn("dev", "%s:%d: not a NAME=value line; ignored", file, start_line);
            goto skip_line;
        }
        i++; /* '=' */
        while (i < n && blank(p[i]))
            i++;
        buf_reset(&val);
        char q = i < n ? p[i] : 0;
        if (q == '"' || q == '\'' || q == '`') {
            size_t j = i + 1;
            int closed = 0;
            while (j < n) {
                char c = p[j];
                if (c == q) {
                    closed = 1;
                    break;
                }
                if (c == '\n')
                    line++;
                if (q == '"' && c == '\\' && j + 1 < n) {
                    char e = p[++j];
                    buf_append_byte(&val, e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e);
                } else {
                    buf_append_byte(&val, c);
                }
                j++;
            }
            if (!closed) {
                log_warn("dev", "%s:%d: the quoted value is not closed; ignored", file,
                         start_line);
                break;
            }
            i = j + 1;
        } else {
            size_t j = i;
            while (j < n && p[j] != '\n' && !(p[j] == '#' && j > i && blank(p[j - 1])))
                j++;
            size_t end = j;
            while (end > i && blank(p[end - 1]))
                end--;
            buf_append(&val, p + i, end - i);
            i = j;
        }
        char name[256];
        if (name_len >= sizeof name) {
            log_warn("dev", "%s:%d: the name is too long; ignored", file, start_line);
        } else {
            memcpy(name, p + name_at, name_len);
            name[name_len] = '\0';
            json_t *s = json_stringn(val.data, val.len);
            if (s)
                json_object_set_new(env, name, s);
            else
                log_warn("dev", "%s:%d: the value is not valid UTF-8; ignored", file, start_line);
        }
    skip_line:
        while (i < n && p[i] != '\n')
            i++;
    }
    buf_release(&val);
    return env;
}

json_t *dotenv_read(const char *path, const char *file)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            log_warn("dev", "cannot read %s: %s", file, strerror(errno));
        return NULL;
    }
    struct buf text = BUF_INIT(DOTENV_MAX);
    char chunk[16384];
    ssize_t r;
    int too_big = 0;
    while ((r = read(fd, chunk, sizeof chunk)) > 0) {
        if (buf_append(&text, chunk, (size_t)r) < 0) {
            too_big = 1;
            break;
        }
    }
    close(fd);
    json_t *env = NULL;
    if (too_big)
        log_warn("dev", "%s is larger than %u bytes; ignored", file, DOTENV_MAX);
    else if (r < 0)
        log_warn("dev", "cannot read %s: %s", file, strerror(errno));
    else
        env = dotenv_parse(text.data ? text.data : "", text.len, file);
    buf_release(&text);
    return env;
}
