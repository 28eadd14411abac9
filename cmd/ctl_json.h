/* batonctl's JSON writer: one object per command, strings escaped per RFC 8259. */
#ifndef BATON_CMD_CTL_JSON_H
#define BATON_CMD_CTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CTL_JSON_MAX_DEPTH 16

/* A streaming writer. Every value call takes the member's key: pass the key inside
 * an object and NULL inside an array (or for the top-level value). The writer
 * inserts commas itself; nesting deeper than CTL_JSON_MAX_DEPTH is a bug of ours
 * and asserts. */
struct ctl_json {
    FILE *out;  /* borrowed */
    int depth;
    bool need_comma[CTL_JSON_MAX_DEPTH];
};

void ctl_json_init(struct ctl_json *j, FILE *out);
void ctl_json_obj_begin(struct ctl_json *j, const char *key);
void ctl_json_obj_end(struct ctl_json *j);
void ctl_json_arr_begin(struct ctl_json *j, const char *key);
void ctl_json_arr_end(struct ctl_json *j);
/* v NULL writes null. Bytes that are not valid UTF-8 become U+FFFD, so the
 * output is valid JSON whatever a server sent. */
void ctl_json_str(struct ctl_json *j, const char *key, const char *v);
void ctl_json_u64(struct ctl_json *j, const char *key, uint64_t v);
void ctl_json_i64(struct ctl_json *j, const char *key, int64_t v);
void ctl_json_bool(struct ctl_json *j, const char *key, bool v);
void ctl_json_null(struct ctl_json *j, const char *key);
/* Ends the document with a newline and flushes. */
void ctl_json_finish(struct ctl_json *j);

/* Writes s as a JSON string literal (quotes included) to out. */
void ctl_json_write_string(FILE *out, const char *s);

#endif
