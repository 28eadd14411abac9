/* batond: the baton daemon's entry point (flags, config file, run until signalled). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/config.h"
#include "node/log.h"
#include "node/node.h"

enum { EXIT_OK = 0, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out, "usage: batond --id N --data-dir DIR --initial-cluster ID=PEER/CLIENT,... "
                 "[options]\n\nOptions (also valid as 'name = value' lines in --config "
                 "files):\n");
    for (const struct node_option_doc *d = node_option_docs; d->name != NULL; d++) {
        fprintf(out, "  --%-21s %-19s %s\n", d->name, d->arg, d->help);
    }
    fprintf(out, "  --%-21s %-19s %s\n", "help", "", "show this help");
    fprintf(out, "  --%-21s %-19s %s\n", "version", "", "show the version");
    fprintf(out,
            "\nA new member of a running cluster: add it first (batonctl cluster add ID PEER "
            "CLIENT\nprints the flags), then start it with --join --cluster-id HEX and an\n"
            "--initial-cluster that lists the current members and itself. It waits for the\n"
            "leader to send the log; once it has data, it restarts like any member (--join\n"
            "has no effect on a data dir that holds state). A member removed from the\n"
            "cluster (batonctl cluster remove) logs it and exits with 0; wipe its data dir\n"
            "before it joins again.\n");
    fprintf(out, "\nExit codes: 0 clean shutdown (SIGTERM/SIGINT, or removed from the cluster), 1 "
                 "runtime\nfailure, 2 usage error, 3 data dir refused (corrupt, another cluster, "
                 "newer format,\nin use, or an empty dir of a cluster joined without --join).\n");
}

/* Flags are "--name value" or "--name=value"; --config FILE is read where it
 * appears, so flags after it override the file. */
static int parse_args(int argc, char **argv, struct node_config *cfg)
{
    char why[512];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(EXIT_OK);
        }
        if (strcmp(arg, "--version") == 0) {
            printf("batond 0.1.0\n");
            exit(EXIT_OK);
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "batond: unexpected argument '%s' (see --help)\n", arg);
            return EXIT_USAGE;
        }
        char name[64];
        const char *value;
        const char *eq = strchr(arg, '=');
        if (strcmp(arg, "--join") == 0) {
            /* The one flag without a value (etcd's --initial-cluster-state existing). */
            snprintf(name, sizeof(name), "join");
            value = "true";
        } else if (eq != NULL) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - arg - 2), arg + 2);
            value = eq + 1;
        } else if (i + 1 < argc) {
            snprintf(name, sizeof(name), "%s", arg + 2);
            value = argv[++i];
        } else {
            fprintf(stderr, "batond: %s needs a value (see --help)\n", arg);
            return EXIT_USAGE;
        }
        int rv = strcmp(name, "config") == 0
                     ? node_config_load_file(cfg, value, why, sizeof(why))
                     : node_config_set(cfg, name, value, why, sizeof(why));
        if (rv != 0) {
            fprintf(stderr, "batond: %s (see --help)\n", why);
            return EXIT_USAGE;
        }
    }
    if (node_config_finish(cfg, why, sizeof(why)) != 0) {
        fprintf(stderr, "batond: %s (see --help)\n", why);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct node_config cfg;
    node_config_default(&cfg);
    int rv = parse_args(argc, argv, &cfg);
    if (rv != EXIT_OK) {
        return rv;
    }
    /* A peer or client that vanishes mid-write must cost a closed connection,
     * not the process: writes then fail with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t loop;
    uv_loop_init(&loop);
    static struct node node;
    char why[1024];
    rv = node_start(&node, &loop, &cfg, why, sizeof(why));
#ifdef BATON_PLANTED_BUG
    /* A test build that breaks safety on purpose must never pass for the real one. */
    node_log(NODE_LOG_ERROR, "PLANTED BUG (test build): %s", BATON_PLANTED_BUG);
#endif
    if (rv != 0) {
        fprintf(stderr, "batond: %s\n", why);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (rv == 0) {
        rv = node.exit_code;
    }
    node_close(&node);
    uv_loop_close(&loop);
    /* After this line only the C runtime (and, in sanitizer builds, the leak check)
     * stands between us and exit: a hang past it is not in our loop. */
    node_log(NODE_LOG_INFO, "stopped (exit code %d)", rv);
    return rv;
}
