/* One line per event on stderr: "<UTC time> <LEVEL> node=<id> term=<t> <message>". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "node/log.h"

static int min_level = NODE_LOG_INFO;
static uint64_t log_node_id;
static uint64_t log_term;

void node_log_setup(int level, uint64_t node_id)
{
    min_level = level;
    log_node_id = node_id;
}

void node_log_set_term(uint64_t term)
{
    log_term = term;
}

int node_log_level_parse(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void node_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < min_level) {
        return;
    }
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One fprintf per line so lines from one process never interleave. */
    fprintf(stderr, "%s.%03ldZ %-5s node=%llu term=%llu %s\n", stamp, ts.tv_nsec / 1000000,
            names[level], (unsigned long long)log_node_id, (unsigned long long)log_term, msg);
}
