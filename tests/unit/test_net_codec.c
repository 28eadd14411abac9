/* Unit tests for framing and the raft <-> protobuf codec. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "net/codec.h"
#include "net/frame.h"

struct collected {
    uint8_t *data[64];
    size_t len[64];
    size_t n;
};

static int collect_cb(void *arg, const uint8_t *payload, size_t len)
{
    struct collected *c = arg;
    ck_assert_uint_lt(c->n, 64);
    c->data[c->n] = malloc(len);
    memcpy(c->data[c->n], payload, len);
    c->len[c->n++] = len;
    return 0;
}

static void collected_free(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->data[i]);
    }
}

static struct raft_message sample_append(void)
{
    static struct raft_entry entries[2];
    entries[0] = (struct raft_entry){.term = 3, .index = 8, .type = RAFT_ENTRY_NORMAL,
                                     .data = {.base = "abc", .len = 3}};
    entries[1] = (struct raft_entry){.term = 3, .index = 9, .type = RAFT_ENTRY_NOOP};
    return (struct raft_message){.type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 3,
                                 .prev_index = 7, .prev_term = 2, .commit = 6,
                                 .entries = entries, .n_entries = 2};
}

static struct raft_message decode_frame(const struct raft_buf *frame)
{
    Baton__Envelope *env = baton__envelope__unpack(NULL, frame->len - NET_FRAME_HEADER,
                                                   (const uint8_t *)frame->base + NET_FRAME_HEADER);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(env->body_case, BATON__ENVELOPE__BODY_RAFT);
    struct raft_message m;
    ck_assert_int_eq(net_raft_from_pb(env->raft, &m), 0);
    baton__envelope__free_unpacked(env, NULL);
    return m;
}

START_TEST(test_append_round_trip)
{
    struct raft_message in = sample_append();
    struct raft_buf frame;
    ck_assert_int_eq(net_encode_raft(&in, NET_FRAME_MAX_DEFAULT, &frame), 0);
    struct raft_message out = decode_frame(&frame);
    ck_assert_int_eq(out.type, RAFT_MSG_APPEND);
    ck_assert_uint_eq(out.prev_index, 7);
    ck_assert_uint_eq(out.commit, 6);
    ck_assert_uint_eq(out.n_entries, 2);
    ck_assert_uint_eq(out.entries[0].data.len, 3);
    ck_assert_mem_eq(out.entries[0].data.base, "abc", 3);
    ck_assert_int_eq(out.entries[1].type, RAFT_ENTRY_NOOP);
    raft_message_clear(&out);
    free(frame.base);
}
END_TEST

START_TEST(test_snapshot_round_trip)
{
    struct raft_message in = {.type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 3, .term = 5,
                              .offset = 10, .done = true, .chunk = {.base = "xyz", .len = 3}};
    in.snapshot.index = 40;
    in.snapshot.term = 4;
    ck_assert_int_eq(raft_conf_add(&in.snapshot.conf, 1, RAFT_VOTER, "127.0.0.1:7001"), 0);
    ck_assert_int_eq(raft_conf_add(&in.snapshot.conf, 4, RAFT_LEARNER, "127.0.0.1:7004"), 0);
    in.snapshot.conf.servers[1].promote = true;
    struct raft_buf frame;
    ck_assert_int_eq(net_encode_raft(&in, NET_FRAME_MAX_DEFAULT, &frame), 0);
    struct raft_message out = decode_frame(&frame);
    ck_assert_uint_eq(out.snapshot.index, 40);
    ck_assert_uint_eq(out.snapshot.conf.n, 2);
    ck_assert_str_eq(out.snapshot.conf.servers[1].addr, "127.0.0.1:7004");
    ck_assert(out.snapshot.conf.servers[1].promote);
    ck_assert(out.done);
    ck_assert_mem_eq(out.chunk.base, "xyz", 3);
    raft_message_clear(&out);
    free(frame.base);
}
END_TEST

START_TEST(test_rejects_unknown_types)
{
    Baton__RaftMessage pb = BATON__RAFT_MESSAGE__INIT;
    struct raft_message m;
    pb.type = 99;
    ck_assert_int_eq(net_raft_from_pb(&pb, &m), BATON_EMALFORMED);
    pb.type = RAFT_MSG_APPEND;
    Baton__Entry e = BATON__ENTRY__INIT;
    Baton__Entry *ep = &e;
    e.type = 77;
    pb.n_entries = 1;
    pb.entries = &ep;
    ck_assert_int_eq(net_raft_from_pb(&pb, &m), BATON_EMALFORMED);
    ck_assert_ptr_null(m.entries);
}
END_TEST

START_TEST(test_encode_too_big)
{
    struct raft_message in = sample_append();
    struct raft_buf frame;
    ck_assert_int_eq(net_encode_raft(&in, 8, &frame), BATON_ETOOBIG);
}
END_TEST

START_TEST(test_reassembly_any_split)
{
    struct raft_message in = sample_append();
    struct raft_buf frame;
    ck_assert_int_eq(net_encode_raft(&in, NET_FRAME_MAX_DEFAULT, &frame), 0);
    uint8_t stream[3 * 128];
    ck_assert_uint_le(frame.len, 128);
    for (int i = 0; i < 3; i++) {
        memcpy(stream + i * frame.len, frame.base, frame.len);
    }
    size_t total = 3 * frame.len;
    for (size_t split = 0; split <= total; split++) {
        struct net_frame_reader r;
        struct collected c = {0};
        net_frame_reader_init(&r, 1024);
        ck_assert_int_eq(net_frame_feed(&r, stream, split, collect_cb, &c), 0);
        ck_assert_int_eq(net_frame_feed(&r, stream + split, total - split, collect_cb, &c), 0);
        ck_assert_uint_eq(c.n, 3);
        for (size_t k = 0; k < 3; k++) {
            ck_assert_uint_eq(c.len[k], frame.len - NET_FRAME_HEADER);
            ck_assert_mem_eq(c.data[k], (uint8_t *)frame.base + NET_FRAME_HEADER, c.len[k]);
        }
        collected_free(&c);
        net_frame_reader_close(&r);
    }
    free(frame.base);
}
END_TEST

START_TEST(test_oversize_and_empty_frames)
{
    struct net_frame_reader r;
    struct collected c = {0};
    uint8_t big[4];
    net_frame_put_header(big, 1025);
    net_frame_reader_init(&r, 1024);
    ck_assert_int_eq(net_frame_feed(&r, big, 4, collect_cb, &c), BATON_ETOOBIG);
    net_frame_reader_close(&r);
    uint8_t empty[4] = {0, 0, 0, 0};
    net_frame_reader_init(&r, 1024);
    ck_assert_int_eq(net_frame_feed(&r, empty, 4, collect_cb, &c), BATON_EMALFORMED);
    net_frame_reader_close(&r);
    ck_assert_uint_eq(c.n, 0);
}
END_TEST

START_TEST(test_random_bytes_never_crash)
{
    uint64_t x = 12345;
    uint8_t buf[256];
    for (int round = 0; round < 20000; round++) {
        size_t len = 1 + (size_t)(round % 255);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        Baton__Envelope *env = baton__envelope__unpack(NULL, len, buf);
        if (env != NULL && env->body_case == BATON__ENVELOPE__BODY_RAFT) {
            struct raft_message m;
            if (net_raft_from_pb(env->raft, &m) == 0) {
                raft_message_clear(&m);
            }
        }
        if (env != NULL) {
            baton__envelope__free_unpacked(env, NULL);
        }
    }
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("net_codec");
    TCase *codec = tcase_create("codec");
    tcase_add_test(codec, test_append_round_trip);
    tcase_add_test(codec, test_snapshot_round_trip);
    tcase_add_test(codec, test_rejects_unknown_types);
    tcase_add_test(codec, test_encode_too_big);
    tcase_add_test(codec, test_random_bytes_never_crash);
    suite_add_tcase(s, codec);
    TCase *frame = tcase_create("frame");
    tcase_add_test(frame, test_reassembly_any_split);
    tcase_add_test(frame, test_oversize_and_empty_frames);
    suite_add_tcase(s, frame);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(codec_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
