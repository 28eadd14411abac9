/* fault_client lock: a lock holder that writes its fencing token to the fenced register. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fc.h"

/*
 * History events of a lock client, besides its operations (grant, acquire, check,
 * inspect, release, revoke):
 *   hold hold=H lock=L lease=X token=T      acquire returned the token (hold starts)
 *   lost hold=H lease=X why=E               the keeper's lost callback ran
 *   pause hold=H deadline=MS                about to SIGSTOP itself (deadline ahead)
 *   resume hold=H                           running again
 *   write hold=H lock=L token=T seq=S at=NS deadline=MS result=R highest=N
 *                                           one register write; at = when it was
 *                                           sent; deadline = the keeper's deadline read
 *                                           just before (-1: not checked, the planted
 *                                           bug); R = accepted, refused or error
 *   unhold hold=H                           the release call starts (hold ends)
 */

struct lock_ctx {
    const struct fc_opts *o;
    struct fc_hist hist;
    struct baton *c;
    uint64_t rng;
    int reg_fd;
    int holds;
    bool ignore_lease;
};

struct hold_state {
    struct lock_ctx *x;
    int hold;
};

static void lost_cb(struct baton_keeper *k, uint64_t lease, int why, void *arg)
{
    (void)k;
    struct hold_state *hs = arg;
    fc_hist_event(&hs->x->hist, "lost", "hold=%d lease=%llu why=%s", hs->hold,
                  (unsigned long long)lease, fc_err_name(why));
}

/* ---- the fenced register's client: one line out, one line back ---- */

static int reg_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends line and reads the answer into reply; -1 on any I/O failure. */
static int reg_exchange(struct lock_ctx *x, const char *line, char *reply, size_t len)
{
    if (x->reg_fd < 0) {
        x->reg_fd = reg_connect(x->o->register_port);
        if (x->reg_fd < 0) {
            return -1;
        }
    }
    size_t n = strlen(line);
    ssize_t sent;
    do {
        sent = send(x->reg_fd, line, n, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent != (ssize_t)n) {
        goto broken;
    }
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t r = recv(x->reg_fd, reply + got, 1, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            goto broken;
        }
        if (reply[got] == '\n') {
            break;
        }
        got++;
    }
    reply[got] = '\0';
    return 0;
broken:
    close(x->reg_fd);
    x->reg_fd = -1;
    return -1;
}

static void reg_write(struct lock_ctx *x, int hold, uint64_t token, int seq, int64_t deadline)
{
    char line[512], reply[128] = "";
    snprintf(line, sizeof(line), "W %s %llu %s %d %d\n", x->o->lock, (unsigned long long)token,
             x->hist.client, hold, seq);
    int64_t at = fc_now_ns();
    const char *result = "error";
    unsigned long long highest = 0;
    if (reg_exchange(x, line, reply, sizeof(reply)) == 0) {
        if (strncmp(reply, "OK ", 3) == 0) {
            result = "accepted";
            highest = strtoull(reply + 3, NULL, 10);
        } else if (strncmp(reply, "REFUSED ", 8) == 0) {
            result = "refused";
            highest = strtoull(reply + 8, NULL, 10);
        }
    }
    fc_hist_event(&x->hist, "write", "hold=%d lock=%s token=%llu seq=%d at=%lld deadline=%lld "
                  "result=%s highest=%llu", hold, x->o->lock, (unsigned long long)token, seq,
                  (long long)at, (long long)deadline, result, highest);
}

/* ---- the operations, each recorded ---- */

static int op_grant(struct lock_ctx *x, struct baton_lease *lease)
{
    uint64_t id = fc_hist_invoke(&x->hist, "grant", "ttl=%llu", (unsigned long long)x->o->ttl_ms);
    int rv = baton_lease_grant(x->c, x->o->ttl_ms, x->o->timeout_ms, lease);
    fc_hist_done(&x->hist, id, "grant", rv, "lease=%llu ttl=%llu",
                 (unsigned long long)(rv == 0 ? lease->id : 0),
                 (unsigned long long)(rv == 0 ? lease->ttl_ms : 0));
    return rv;
}

static int op_acquire(struct lock_ctx *x, uint64_t lease, uint64_t *token)
{
    uint64_t id = fc_hist_invoke(&x->hist, "acquire", "lock=%s lease=%llu wait=%llu", x->o->lock,
                                 (unsigned long long)lease, (unsigned long long)x->o->wait_ms);
    int rv = baton_lock_acquire(x->c, x->o->lock, lease, x->o->wait_ms, 0, x->o->timeout_ms,
                                token);
    fc_hist_done(&x->hist, id, "acquire", rv, "lock=%s lease=%llu token=%llu", x->o->lock,
                 (unsigned long long)lease, (unsigned long long)(rv == 0 ? *token : 0));
    return rv;
}

static void op_release(struct lock_ctx *x, uint64_t lease)
{
    uint64_t id = fc_hist_invoke(&x->hist, "release", "lock=%s lease=%llu", x->o->lock,
                                 (unsigned long long)lease);
    int rv = baton_lock_release(x->c, x->o->lock, lease, x->o->timeout_ms);
    fc_hist_done(&x->hist, id, "release", rv, "lock=%s lease=%llu", x->o->lock,
                 (unsigned long long)lease);
}

static void op_revoke(struct lock_ctx *x, uint64_t lease)
{
    uint64_t id = fc_hist_invoke(&x->hist, "revoke", "lease=%llu", (unsigned long long)lease);
    int rv = baton_lease_revoke(x->c, lease, x->o->timeout_ms);
    fc_hist_done(&x->hist, id, "revoke", rv, "lease=%llu", (unsigned long long)lease);
}

static void op_check(struct lock_ctx *x, uint64_t token)
{
    uint64_t id = fc_hist_invoke(&x->hist, "check", "lock=%s token=%llu", x->o->lock,
                                 (unsigned long long)token);
    bool current = false;
    int rv = baton_lock_check(x->c, x->o->lock, token, x->o->timeout_ms, &current);
    fc_hist_done(&x->hist, id, "check", rv, "lock=%s token=%llu current=%d", x->o->lock,
                 (unsigned long long)token, rv == 0 && current);
}

static void op_inspect(struct lock_ctx *x)
{
    uint64_t id = fc_hist_invoke(&x->hist, "inspect", "lock=%s", x->o->lock);
    struct baton_lock_info info;
    memset(&info, 0, sizeof(info));
    int rv = baton_lock_inspect(x->c, x->o->lock, x->o->timeout_ms, &info);
    fc_hist_done(&x->hist, id, "inspect", rv, "lock=%s held=%d holder=%llu token=%llu waiters=%zu",
                 x->o->lock, rv == 0 && info.held, (unsigned long long)info.lease,
                 (unsigned long long)info.token, info.n_waiters);
    if (rv == 0) {
        baton_lock_info_clear(&info);
    }
}

/* ---- one hold ---- */

static bool pause_due(const struct lock_ctx *x, int hold)
{
    int first = x->o->pause_first, every = x->o->pause_every;
    if (first <= 0 || hold < first) {
        return false;
    }
    return hold == first || (every > 0 && (hold - first) % every == 0);
}

/* A process pause between the deadline check and the write, as a GC or VM pause
 * would strike: the write goes out after the lease is gone. */
static void pause_self(struct lock_ctx *x, int hold, uint64_t token, int64_t deadline)
{
    fc_hist_event(&x->hist, "pause", "hold=%d deadline=%lld", hold, (long long)deadline);
    printf("PAUSE %d %s %llu\n", hold, x->o->lock, (unsigned long long)token);
    fflush(stdout);
    raise(SIGSTOP);
    fc_hist_event(&x->hist, "resume", "hold=%d", hold);
}

/* The careful holder: acts only while the keeper's deadline is ahead. */
static void hold_checked(struct lock_ctx *x, int hold, uint64_t token, struct baton_keeper *k)
{
    bool pause = pause_due(x, hold);
    int writes = (int)fc_rand_range(&x->rng, 1, 4);
    for (int seq = 1; seq <= writes && !fc_stop; seq++) {
        int64_t d = baton_keeper_deadline(k);
        if (d == 0 || baton_now_ms() >= d) {
            break; /* lost: stop acting on the resource */
        }
        if (pause && seq == 1) {
            pause_self(x, hold, token, d);
            if (fc_stop) {
                break; /* resumed only to end the run: the stale write proves nothing */
            }
        }
        reg_write(x, hold, token, seq, d);
        if (fc_rand(&x->rng) % 3 == 0) {
            op_check(x, token);
        }
        if (fc_rand(&x->rng) % 5 == 0) {
            op_inspect(x);
        }
        fc_sleep_ms(fc_rand_range(&x->rng, 10, 150));
    }
}

/* The planted bug: the keeper is stopped at once and the lease ignored. */
static void hold_ignoring(struct lock_ctx *x, int hold, uint64_t token)
{
    int64_t until = fc_now_ns() + (int64_t)(2 * x->o->ttl_ms + 1000) * 1000000;
    for (int seq = 1; fc_now_ns() < until && !fc_stop; seq++) {
        reg_write(x, hold, token, seq, -1);
        fc_sleep_ms(100);
    }
}

static void hold_once(struct lock_ctx *x)
{
    struct baton_lease lease;
    if (op_grant(x, &lease) != 0) {
        fc_sleep_ms(50);
        return;
    }
    struct hold_state hs = {.x = x, .hold = x->holds + 1};
    struct baton_keeper *k = NULL;
    int rv = baton_lease_keep(x->c, &lease, lost_cb, &hs, &k);
    if (rv != 0) {
        fprintf(stderr, "fault_client lock: cannot keep lease: %s\n", baton_strerror(rv));
        op_revoke(x, lease.id);
        return;
    }
    uint64_t token = 0;
    if (op_acquire(x, lease.id, &token) == 0) {
        int hold = ++x->holds;
        fc_hist_event(&x->hist, "hold", "hold=%d lock=%s lease=%llu token=%llu", hold, x->o->lock,
                      (unsigned long long)lease.id, (unsigned long long)token);
        if (x->ignore_lease) {
            baton_keeper_stop(k);
            k = NULL;
            hold_ignoring(x, hold, token);
        } else {
            hold_checked(x, hold, token, k);
        }
        fc_hist_event(&x->hist, "unhold", "hold=%d", hold);
        if (k != NULL) {
            baton_keeper_stop(k);
            k = NULL;
        }
        op_release(x, lease.id);
    }
    if (k != NULL) {
        baton_keeper_stop(k);
    }
    op_revoke(x, lease.id);
    fc_sleep_ms(fc_rand_range(&x->rng, 0, 100));
}

int fc_cmd_lock(const struct fc_opts *o)
{
    if (o->lock == NULL || o->register_port <= 0) {
        fprintf(stderr, "fault_client lock: --lock and --register are required\n");
        return 2;
    }
    struct lock_ctx x;
    memset(&x, 0, sizeof(x));
    x.o = o;
    x.rng = o->seed * 0x9e3779b97f4a7c15ULL + 1;
    x.reg_fd = -1;
    x.ignore_lease = o->plant != NULL && strcmp(o->plant, "ignore-lease") == 0;
    if (fc_hist_open(&x.hist, o->history, o->client) != 0) {
        return 3;
    }
    struct baton_options opt;
    fc_client_options(&opt, o->timeout_ms);
    int rv = baton_open(o->endpoints, &opt, &x.c);
    if (rv != 0) {
        fprintf(stderr, "fault_client lock: %s\n", baton_strerror(rv));
        fc_hist_close(&x.hist);
        return 3;
    }
    int64_t end = fc_end_ns(o);
    while (!fc_done(end)) {
        hold_once(&x);
    }
    baton_close(x.c);
    if (x.reg_fd >= 0) {
        close(x.reg_fd);
    }
    fc_hist_event(&x.hist, "end", "holds=%d", x.holds);
    fc_hist_close(&x.hist);
    return 0;
}
