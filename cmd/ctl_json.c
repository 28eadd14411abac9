/* batonctl's JSON writer: commas, nesting and RFC 8259 string escaping. */
#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "ctl_json.h"

void ctl_json_init(struct ctl_json *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n;
    uint32_t cp;
    if (s[0] < 0x80) {
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0; /* also stops at the terminating NUL */
        }
        cp = cp << 6 | (s[i] & 0x3F);
    }
    /* Reject overlong forms, UTF-16 surrogates and values past U+10FFFF. */
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        return 0;
    }
    return n;
}

static void write_escape(FILE *out, unsigned char c)
{
    switch (c) {
    case '"':
        fputs("\\\"", out);
        break;
    case '\\':
        fputs("\\\\", out);
        break;
    case '\n':
        fputs("\\n", out);
        break;
    case '\r':
        fputs("\\r", out);
        break;
    case '\t':
        fputs("\\t", out);
        break;
    default:
        fprintf(out, "\\u%04x", c);
        break;
    }
}

void ctl_json_write_string(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    while (*p != '\0') {
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7F) {
            write_escape(out, *p++);
            continue;
        }
        size_t n = utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", out);
            p++;
            continue;
        }
        fwrite(p, 1, n, out);
        p += n;
    }
    fputc('"', out);
}

/* Separator and key before a value at the current depth. */
static void begin_value(struct ctl_json *j, const char *key)
{
    if (j->need_comma[j->depth]) {
        fputc(',', j->out);
    }
    j->need_comma[j->depth] = true;
    if (key != NULL) {
        ctl_json_write_string(j->out, key);
        fputc(':', j->out);
    }
}

static void open_container(struct ctl_json *j, const char *key, char c)
{
    begin_value(j, key);
    fputc(c, j->out);
    assert(j->depth + 1 < CTL_JSON_MAX_DEPTH);
    j->depth++;
    j->need_comma[j->depth] = false;
}

static void close_container(struct ctl_json *j, char c)
{
    assert(j->depth > 0);
    j->depth--;
    fputc(c, j->out);
}

void ctl_json_obj_begin(struct ctl_json *j, const char *key)
{
    open_container(j, key, '{');
}

void ctl_json_obj_end(struct ctl_json *j)
{
    close_container(j, '}');
}

void ctl_json_arr_begin(struct ctl_json *j, const char *key)
{
    open_container(j, key, '[');
}

void ctl_json_arr_end(struct ctl_json *j)
{
    close_container(j, ']');
}

void ctl_json_str(struct ctl_json *j, const char *key, const char *v)
{
    begin_value(j, key);
    if (v == NULL) {
        fputs("null", j->out);
    } else {
        ctl_json_write_string(j->out, v);
    }
}

void ctl_json_u64(struct ctl_json *j, const char *key, uint64_t v)
{
    begin_value(j, key);
    fprintf(j->out, "%" PRIu64, v);
}

void ctl_json_i64(struct ctl_json *j, const char *key, int64_t v)
{
    begin_value(j, key);
    fprintf(j->out, "%" PRId64, v);
}

void ctl_json_bool(struct ctl_json *j, const char *key, bool v)
{
    begin_value(j, key);
    fputs(v ? "true" : "false", j->out);
}

void ctl_json_null(struct ctl_json *j, const char *key)
{
    begin_value(j, key);
    fputs("null", j->out);
}

void ctl_json_finish(struct ctl_json *j)
{
    assert(j->depth == 0);
    fputc('\n', j->out);
    fflush(j->out);
}
