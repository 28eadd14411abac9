/* fault_client: command line, signals, and dispatch to the subcommands. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "fc.h"

static const char usage[] =
    "usage: fault_client COMMAND --endpoints HOST:PORT,... [options]\n"
    "\n"
    "Workloads (each records a history file, see fc.h; they run --seconds, or until\n"
    "SIGTERM/SIGINT when 0, finishing the call under way):\n"
    "  lock         take --lock in a loop: grant a lease (--ttl), keep it alive, acquire\n"
    "               (--wait), write the token to the fenced register on --register PORT\n"
    "               a few times while the keeper's deadline is ahead, check, inspect,\n"
    "               release, revoke; --pause-first K --pause-every N: in hold K, K+N, ...\n"
    "               print 'PAUSE <hold> <lock> <token>' and SIGSTOP itself between the\n"
    "               deadline check and the write (the harness resumes it once the lease\n"
    "               is gone); --plant ignore-lease: stop the keeper right after each\n"
    "               acquire and hold for 2*TTL+1s anyway, writing without checks (a bug)\n"
    "  lease        grant leases, keep them alive by hand, revoke or abandon them and\n"
    "               ask again after the TTL\n"
    "  counter      increment ctr-K at node K (a random endpoint each time, through a\n"
    "               client pinned to it)\n"
    "Tools:\n"
    "  monitor      one line per node per --interval (default 100 ms) on stdout:\n"
    "               <t_ns> <k> up role=R term=T leader=L commit=C | <t_ns> <k> down err=E\n"
    "  probe        grant, acquire --lock, release, revoke, retrying until --timeout;\n"
    "               prints probe_ms=T, exit 0, or probe_failed err=E, exit 1\n"
    "  counter-read every endpoint's value of each of --names: '<k> <name> <value>|err=E'\n"
    "  burst        --count increments of --name at the single endpoint, alternating with\n"
    "               increments of fresh names (growth), until one fails; prints\n"
    "               acked=A attempted=N err=E\n"
    "\n"
    "Options: --client NAME --history FILE --seconds S --seed N --ttl MS (1500)\n"
    "         --wait MS (3000) --timeout MS (2000) --interval MS --count N --name N\n"
    "         --names A,B --lock NAME --register PORT --pause-first K --pause-every N\n"
    "         --plant ignore-lease\n";

volatile sig_atomic_t fc_stop;

static void on_stop(int sig)
{
    (void)sig;
    fc_stop = 1;
}

static uint64_t num(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "fault_client: not a number: '%s'\n", s);
        exit(2);
    }
    return v;
}

enum {
    OPT_ENDPOINTS = 1, OPT_CLIENT, OPT_HISTORY, OPT_LOCK, OPT_NAMES, OPT_NAME, OPT_PLANT,
    OPT_SECONDS, OPT_SEED, OPT_TTL, OPT_WAIT, OPT_TIMEOUT, OPT_INTERVAL, OPT_COUNT,
    OPT_REGISTER, OPT_PAUSE_FIRST, OPT_PAUSE_EVERY, OPT_HELP
};

static const struct option long_opts[] = {
    {"endpoints", required_argument, NULL, OPT_ENDPOINTS},
    {"client", required_argument, NULL, OPT_CLIENT},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"lock", required_argument, NULL, OPT_LOCK},
    {"names", required_argument, NULL, OPT_NAMES},
    {"name", required_argument, NULL, OPT_NAME},
    {"plant", required_argument, NULL, OPT_PLANT},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"count", required_argument, NULL, OPT_COUNT},
    {"register", required_argument, NULL, OPT_REGISTER},
    {"pause-first", required_argument, NULL, OPT_PAUSE_FIRST},
    {"pause-every", required_argument, NULL, OPT_PAUSE_EVERY},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void set_opt(struct fc_opts *o, int c, const char *arg)
{
    switch (c) {
    case OPT_ENDPOINTS: o->endpoints = arg; break;
    case OPT_CLIENT: o->client = arg; break;
    case OPT_HISTORY: o->history = arg; break;
    case OPT_LOCK: o->lock = arg; break;
    case OPT_NAMES: o->names = arg; break;
    case OPT_NAME: o->name = arg; break;
    case OPT_PLANT: o->plant = arg; break;
    case OPT_SECONDS: o->seconds = atof(arg); break;
    case OPT_SEED: o->seed = num(arg); break;
    case OPT_TTL: o->ttl_ms = num(arg); break;
    case OPT_WAIT: o->wait_ms = num(arg); break;
    case OPT_TIMEOUT: o->timeout_ms = num(arg); break;
    case OPT_INTERVAL: o->interval_ms = num(arg); break;
    case OPT_COUNT: o->count = num(arg); break;
    case OPT_REGISTER: o->register_port = (int)num(arg); break;
    case OPT_PAUSE_FIRST: o->pause_first = (int)num(arg); break;
    case OPT_PAUSE_EVERY: o->pause_every = (int)num(arg); break;
    default:
        fputs(usage, c == OPT_HELP ? stdout : stderr);
        exit(c == OPT_HELP ? 0 : 2);
    }
}

static void defaults(struct fc_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->client = "c";
    o->seed = 1;
    o->ttl_ms = 1500;
    o->wait_ms = 3000;
    o->timeout_ms = 2000;
    o->interval_ms = 100;
    o->count = 100;
}

struct command {
    const char *name;
    int (*run)(const struct fc_opts *o);
    bool needs_history;
};

static const struct command commands[] = {
    {"lock", fc_cmd_lock, true},          {"lease", fc_cmd_lease, true},
    {"counter", fc_cmd_counter, true},    {"counter-read", fc_cmd_counter_read, false},
    {"burst", fc_cmd_burst, false},       {"monitor", fc_cmd_monitor, false},
    {"probe", fc_cmd_probe, false},       {NULL, NULL, false},
};

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: sleeps end early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Never outlive the harness, even if it is killed without cleaning up. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const struct command *cmd = commands;
    while (cmd->name != NULL && strcmp(cmd->name, argv[1]) != 0) {
        cmd++;
    }
    if (cmd->name == NULL) {
        fprintf(stderr, "fault_client: unknown command '%s'\n%s", argv[1], usage);
        return 2;
    }
    struct fc_opts o;
    defaults(&o);
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        set_opt(&o, c, optarg);
    }
    if (optind != argc || o.endpoints == NULL || (cmd->needs_history && o.history == NULL)) {
        fprintf(stderr, "fault_client %s: --endpoints%s required, no other arguments\n%s",
                cmd->name, cmd->needs_history ? " and --history are" : " is", usage);
        return 2;
    }
    install_signals();
    return cmd->run(&o);
}
