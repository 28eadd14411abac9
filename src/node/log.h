/* The daemon's log: one line per event with time, level, node id and term. */
#ifndef BATON_NODE_LOG_H
#define BATON_NODE_LOG_H

#include <stdint.h>

enum node_log_level {
    NODE_LOG_DEBUG = 0,
    NODE_LOG_INFO,
    NODE_LOG_WARN,
    NODE_LOG_ERROR,
};

/* Process-wide settings: the minimum level printed and the node id shown. */
void node_log_setup(int level, uint64_t node_id);
/* Parses "debug", "info", "warn" or "error"; -1 for anything else. */
int node_log_level_parse(const char *s);
/* The term shown in following lines. */
void node_log_set_term(uint64_t term);

void node_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
