/* batonctl: the command-line client of a baton cluster (global flags, command table, usage). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton/error.h"
#include "ctl.h"
#include "ctl_baton.h"
#include "ctl_json.h"

#ifndef BATON_VERSION
#define BATON_VERSION "unknown"
#endif

/* Every command. A new one is a row here plus its run function in a ctl_<group>.c. */
static const struct ctl_command commands[] = {
    {"cluster", "status", "", "each node's id, role, term, leader, commit, applied",
     ctl_cluster_status},
    {"cluster", "health", "", "each node's failure-detector view: suspects, timeouts",
     ctl_cluster_health},
    {"cluster", "members", "",
     "the committed membership, from the leader: id= peer= client= role=",
     ctl_cluster_members},
    {"cluster", "add", "ID PEER_ADDR CLIENT_ADDR",
     "add member ID (learner, then voter): id= role= index= cluster_id=",
     ctl_cluster_add},
    {"cluster", "remove", "ID", "remove member ID (it stops): id= index=",
     ctl_cluster_remove},
    {"cluster", "transfer", "[ID]",
     "hand leadership to voter ID (default: any caught-up): leader= term=",
     ctl_cluster_transfer},
    {"lease", "grant", "TTL_MS",
     "grant a lease (TTL at least 2 election timeouts): lease= ttl_ms=", ctl_lease_grant},
    {"lease", "keepalive", "ID", "restart lease ID at its full TTL once: ttl_ms=",
     ctl_lease_keepalive},
    {"lease", "revoke", "ID", "end lease ID; the locks it holds are released", ctl_lease_revoke},
    {"lease", "list", "", "every live lease: lease= ttl_ms= remaining_ms= locks= waits=",
     ctl_lease_list},
    {"lock", "acquire", "NAME (--lease ID | --ttl MS) [--wait MS] [--lock-delay MS]",
     "acquire NAME: token= (with --ttl also lease=)", ctl_lock_acquire},
    {"lock", "release", "NAME --lease ID", "release NAME held by lease ID", ctl_lock_release},
    {"lock", "inspect", "NAME", "NAME's holder: held= lease= token= waiters= (queued leases)",
     ctl_lock_inspect},
    {"lock", "check", "NAME TOKEN", "exit 0 if TOKEN is NAME's current fencing token, else 1",
     ctl_lock_check},
    {"lock", "exec", "NAME [--ttl MS] [--wait MS] [--grace MS] -- CMD [ARGS...]",
     "run CMD while holding NAME (see Locks below)", ctl_lock_exec},
    {"counter", "incr", "NAME [N]", "add N (default 1) at one node: value=", ctl_counter_incr},
    {"counter", "get", "NAME [--all]", "value= at one node (--all: every node, and the spread)",
     ctl_counter_get},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: batonctl [--endpoints HOST:PORT,...] [--json] [--timeout MS] COMMAND [ARGS]\n"
            "\n"
            "Global flags (accepted before or after COMMAND):\n"
            "  --endpoints LIST  client endpoints of the cluster, comma-separated\n"
            "                    (default: $BATON_ENDPOINTS, else %s)\n"
            "  --json            print one JSON object instead of key=value lines\n"
            "  --timeout MS      deadline for the whole command (default %d)\n"
            "  --help, -h        this help     --version  print the version\n"
            "\n"
            "Commands:\n",
            CTL_ENDPOINTS_DEFAULT, CTL_TIMEOUT_DEFAULT_MS);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char synopsis[96];
        snprintf(synopsis, sizeof(synopsis), "%s %s%s%s", commands[i].group, commands[i].name,
                 commands[i].args[0] ? " " : "", commands[i].args);
        if (strlen(synopsis) >= 28) {
            fprintf(out, "  %s\n  %-28s %s\n", synopsis, "", commands[i].summary);
        } else {
            fprintf(out, "  %-28s %s\n", synopsis, commands[i].summary);
        }
    }
    fputs("\n"
          "Locks:\n"
          "  lock acquire --wait MS queues (FIFO) for up to MS; the default, 0, only tries.\n"
          "  With --ttl MS it grants a lease of its own, keeps it alive while it waits, and\n"
          "  then leaves it: the lease (and the lock) ends MS after its last keepalive\n"
          "  unless kept alive (lease keepalive) or revoked (lease revoke).\n"
          "  lock exec grants a lease (--ttl, default 10000), keeps it alive every TTL/3,\n"
          "  waits for the lock (--wait, default: no limit), runs CMD with\n"
          "  BATON_FENCING_TOKEN, BATON_LEASE and BATON_LOCK in its environment, passes\n"
          "  SIGINT, SIGTERM and SIGHUP on to it, and when CMD ends releases the lock and\n"
          "  revokes the lease. If the lease is lost, CMD gets SIGTERM (then SIGKILL after\n"
          "  --grace MS, default 5000). It exits with CMD's status (128+N if signal N\n"
          "  ended it), 1 if the lock was not acquired within --wait, 3 if the lease was\n"
          "  lost or the cluster was unavailable, 126/127 if CMD could not run. --timeout\n"
          "  bounds getting the lock (plus --wait), and afresh letting it go.\n"
          "Membership:\n"
          "  cluster add/remove/transfer are served by the leader, one change at a time,\n"
          "  and answered once the change has committed (exit 1 while another is in\n"
          "  progress). A new member joins as a learner and the leader makes it a voter\n"
          "  once it has caught up (cluster members shows role=voter then); cluster add\n"
          "  prints the batond flags to start it with (--join --cluster-id ...). A removed\n"
          "  member stops. transfer exits 1 if the target did not catch up in time.\n"
          "Counters:\n"
          "  Any node answers, with or without a quorum. An increment is sent at most\n"
          "  once: exit 3 means it may or may not have been counted.\n",
          out);
    fprintf(out, "\n"
                 "Exit codes:\n"
                 "  0  success\n"
                 "  1  a definite \"no\" (lock not acquired within --wait, check false,\n"
                 "     a membership change refused or already in progress)\n"
                 "  2  usage error\n"
                 "  3  cluster unavailable or timed out (outcome unknown)\n"
                 "  4  not found or expired (unknown lease, lease expired, unknown member)\n");
}

int ctl_usage_error(const struct ctl_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("batonctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (ctx != NULL && ctx->cmd != NULL) {
        fprintf(stderr, "usage: batonctl [global flags] %s %s%s%s\n", ctx->cmd->group,
                ctx->cmd->name, ctx->cmd->args[0] ? " " : "", ctx->cmd->args);
    }
    fputs("Try 'batonctl --help'.\n", stderr);
    return CTL_EXIT_USAGE;
}

int ctl_exit_for_err(int err)
{
    switch (err) {
    case 0:
        return CTL_EXIT_OK;
    case BATON_EINVAL:
        return CTL_EXIT_USAGE;
    case BATON_ENOTFOUND:
    case BATON_EEXPIRED:
        return CTL_EXIT_NOTFOUND;
    case BATON_ELOCKED:
        return CTL_EXIT_NO;
    default:
        return CTL_EXIT_UNAVAILABLE;
    }
}

uint64_t ctl_request_id(struct ctl_ctx *ctx)
{
    return ++ctx->next_id;
}

void ctl_print_kv(FILE *out, const char *key, const char *value)
{
    const char *v = value ? value : "";
    bool plain = v[0] != '\0';
    for (const char *p = v; *p && plain; p++) {
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("._:/,-", *p) != NULL;
    }
    fprintf(out, "%s=", key);
    if (plain) {
        fputs(v, out);
    } else {
        ctl_json_write_string(out, v);
    }
}

/* Parsed command line: globals go to ctx, the rest (command words and the
 * command's own arguments, in order) to words. */
struct cmdline {
    int n_words;
    char **words;
    const char *endpoints;
    bool help;
    bool version;
};

static int parse_timeout(struct ctl_ctx *ctx, const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v <= 0 || v > 24LL * 3600 * 1000) {
        return ctl_usage_error(NULL, "--timeout wants milliseconds (1..86400000), got '%s'", s);
    }
    ctx->timeout_ms = v;
    return 0;
}

/* The value of flag "--name VALUE" or "--name=VALUE" at argv[*i], or NULL (then
 * *bad is set if the flag matched but its value is missing). */
static const char *flag_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) {
        return NULL;
    }
    if (argv[*i][n] == '=') {
        return argv[*i] + n + 1;
    }
    if (argv[*i][n] != '\0') {
        return NULL;
    }
    if (*i + 1 >= argc) {
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

/* One argv item: a global flag (consumed), or a word for the command. */
static int parse_arg(struct ctl_ctx *ctx, struct cmdline *cl, int argc, char **argv, int *i)
{
    bool bad = false;
    const char *v;
    const char *a = argv[*i];
    if ((v = flag_value(argc, argv, i, "--endpoints", &bad)) != NULL) {
        cl->endpoints = v;
    } else if ((v = flag_value(argc, argv, i, "--timeout", &bad)) != NULL) {
        return parse_timeout(ctx, v);
    } else if (bad) {
        return ctl_usage_error(NULL, "%s needs a value", a);
    } else if (strcmp(a, "--json") == 0) {
        ctx->json = true;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        cl->help = true;
    } else if (strcmp(a, "--version") == 0) {
        cl->version = true;
    } else if (a[0] == '-' && a[1] != '\0' && cl->n_words < 2) {
        return ctl_usage_error(NULL, "unknown flag '%s'", a);
    } else {
        cl->words[cl->n_words++] = argv[*i];
    }
    return 0;
}

static int parse_cmdline(struct ctl_ctx *ctx, struct cmdline *cl, int argc, char **argv)
{
    memset(cl, 0, sizeof(*cl));
    cl->words = calloc((size_t)argc + 1, sizeof(*cl->words));
    if (cl->words == NULL) {
        fprintf(stderr, "batonctl: %s\n", baton_strerror(BATON_ENOMEM));
        return CTL_EXIT_UNAVAILABLE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            /* Everything after "--" belongs to the command (lock exec's CMD). */
            while (i < argc) {
                cl->words[cl->n_words++] = argv[i++];
            }
            break;
        }
        int rv = parse_arg(ctx, cl, argc, argv, &i);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static const struct ctl_command *find_command(int n_words, char **words)
{
    for (size_t i = 0; n_words >= 2 && i < N_COMMANDS; i++) {
        if (strcmp(commands[i].group, words[0]) == 0 && strcmp(commands[i].name, words[1]) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

/* Usage error for words that name no command, listing the group's commands if
 * the group exists. */
static int unknown_command(int n_words, char **words)
{
    if (n_words == 0) {
        return ctl_usage_error(NULL, "no command given");
    }
    bool group = false;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        group = group || strcmp(commands[i].group, words[0]) == 0;
    }
    if (!group) {
        return ctl_usage_error(NULL, "unknown command '%s'", words[0]);
    }
    if (n_words < 2) {
        fprintf(stderr, "batonctl: '%s' needs a subcommand:\n", words[0]);
    } else {
        fprintf(stderr, "batonctl: unknown command '%s %s'; '%s' has:\n", words[0], words[1],
                words[0]);
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].group, words[0]) == 0) {
            fprintf(stderr, "  %s %s%s%s\n", commands[i].group, commands[i].name,
                    commands[i].args[0] ? " " : "", commands[i].args);
        }
    }
    fputs("Try 'batonctl --help'.\n", stderr);
    return CTL_EXIT_USAGE;
}

static int setup_endpoints(struct ctl_ctx *ctx, const char *flag)
{
    const char *list = flag;
    if (list == NULL) {
        list = getenv("BATON_ENDPOINTS");
    }
    if (list == NULL || list[0] == '\0') {
        list = CTL_ENDPOINTS_DEFAULT;
    }
    char why[256];
    if (ctl_endpoints_parse(list, &ctx->endpoints, why, sizeof(why)) != 0) {
        return ctl_usage_error(NULL, "bad endpoints: %s", why);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct ctl_ctx ctx; /* large (the endpoint list): not on the stack */
    struct cmdline cl;
    ctx.timeout_ms = CTL_TIMEOUT_DEFAULT_MS;
    int rv = parse_cmdline(&ctx, &cl, argc, argv);
    if (rv == 0 && cl.help) {
        print_help(stdout);
    } else if (rv == 0 && cl.version) {
        printf("batonctl %s\n", BATON_VERSION);
    } else if (rv == 0) {
        const struct ctl_command *cmd = find_command(cl.n_words, cl.words);
        rv = cmd == NULL ? unknown_command(cl.n_words, cl.words)
                         : setup_endpoints(&ctx, cl.endpoints);
        if (rv == 0) {
            ctx.cmd = cmd;
            ctx.deadline_ms = ctl_now_ms() + ctx.timeout_ms;
            rv = cmd->run(&ctx, cl.n_words - 2, cl.words + 2);
        }
    }
    free(cl.words);
    return rv;
}
