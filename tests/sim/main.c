/* baton-sim: runs seeded cluster simulations and reports the seeds that break Raft. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct sim_cli {
    uint64_t first;
    uint64_t count;
    unsigned nodes;
    bool verbose;
    bool expect_failure;
    int plant;
    const char *prog;
};

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --seeds N [--first S] [--nodes 3|5] [--expect-failure] [--plant BUG]\n"
            "       %s --seed S [--nodes 3|5] [--verbose] [--plant BUG]\n"
            "Runs seeds S..S+N-1 of the deterministic cluster simulation. --verbose traces\n"
            "every event; --expect-failure exits 0 at the first failing seed and 1 if\n"
            "all pass (proves a planted bug is caught). --plant keepalive-any-leader\n"
            "breaks the simulated node: its leader accepts keepalives without checking\n"
            "that its leadership is current.\n",
            prog, prog);
}

static bool parse_u64(const char *arg, uint64_t *out)
{
    char *end = NULL;
    if (!arg || !*arg)
        return false;
    unsigned long long v = strtoull(arg, &end, 10);
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Returns 0 on success, 2 on a usage error. */
static int parse(int argc, char **argv, struct sim_cli *cli)
{
    uint64_t v = 0;
    cli->first = 1;
    cli->count = 0;
    cli->nodes = 3;
    cli->prog = base_name(argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--verbose")) {
            cli->verbose = true;
        } else if (!strcmp(a, "--expect-failure")) {
            cli->expect_failure = true;
        } else if (!strcmp(a, "--seeds") && parse_u64(next, &cli->count)) {
            i++;
        } else if ((!strcmp(a, "--first") || !strcmp(a, "--seed")) && parse_u64(next, &cli->first)) {
            if (!strcmp(a, "--seed"))
                cli->count = 1;
            i++;
        } else if (!strcmp(a, "--plant") && next && !strcmp(next, "keepalive-any-leader")) {
            cli->plant = SIM_PLANT_KEEPALIVE_ANY_LEADER;
            i++;
        } else if (!strcmp(a, "--nodes") && parse_u64(next, &v) && (v == 3 || v == 5)) {
            cli->nodes = (unsigned)v;
            i++;
        } else {
            return 2;
        }
    }
    return cli->count > 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    struct sim_cli cli;
    memset(&cli, 0, sizeof(cli));
    if (parse(argc, argv, &cli) != 0) {
        usage(argv[0]);
        return 2;
    }
    uint64_t passed = 0, failed = 0;
    char reason[SIM_REASON_MAX];
    for (uint64_t seed = cli.first; seed < cli.first + cli.count; seed++) {
        if (sim_run(seed, cli.nodes, cli.verbose, cli.plant, reason, sizeof(reason)) == 0) {
            passed++;
            continue;
        }
        failed++;
        printf("seed %" PRIu64 " (%u nodes) FAILED: %s\n", seed, cli.nodes, reason);
        printf("  replay: %s --seed %" PRIu64 " --nodes %u%s --verbose\n", cli.prog, seed,
               cli.nodes, cli.plant ? " --plant keepalive-any-leader" : "");
        fflush(stdout);
        if (cli.expect_failure)
            break;
    }
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    if (cli.expect_failure)
        return failed ? 0 : 1;
    return failed ? 1 : 0;
}
