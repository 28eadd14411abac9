/* baton's error codes: one X-macro table that defines the enum and baton_strerror(). */
#ifndef BATON_ERROR_H
#define BATON_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message). Values are negative so that 0 stays "success" and
 * functions can return either a count or an error in one int. Values are part of
 * the wire and CLI contract: never renumber, only append. */
#define BATON_ERRORS(X)                                                        \
    X(BATON_ENOMEM, -1, "out of memory")                                       \
    X(BATON_EINVAL, -2, "invalid argument")                                    \
    X(BATON_EMALFORMED, -3, "malformed input")                                 \
    X(BATON_ENOTLEADER, -4, "not the leader")                                  \
    X(BATON_EBUSY, -5, "busy: another operation of this kind is in progress") \
    X(BATON_ESHUTDOWN, -6, "shutting down")                                    \
    X(BATON_ENOTFOUND, -7, "not found")                                        \
    X(BATON_ECOMPACTED, -8, "log entry already compacted into a snapshot")     \
    X(BATON_EIO, -9, "I/O error")                                              \
    X(BATON_ECORRUPT, -10, "data is corrupt")                                  \
    X(BATON_ECLUSTER, -11, "data belongs to another cluster")                  \
    X(BATON_EVERSION, -12, "data was written by a newer format version")       \
    X(BATON_ENOSPACE, -13, "no space left on device")                          \
    X(BATON_ETOOBIG, -14, "message too large")                                 \
    X(BATON_ETIMEDOUT, -15, "timed out")                                       \
    X(BATON_EUNAVAILABLE, -16, "cluster unavailable")                          \
    X(BATON_EEXPIRED, -17, "lease expired")                                    \
    X(BATON_ECONFIG, -18, "invalid cluster configuration")                     \
    X(BATON_ELOCKED, -19, "lock is held by another lease")                     \
    X(BATON_EOVERFLOW, -20, "counter overflow")                                \
    X(BATON_ECANCELED, -21, "operation canceled")                              \
    X(BATON_EEXIST, -22, "already exists")                                     \
    X(BATON_ELAGGING, -23, "not caught up with the leader's log")

enum baton_err {
#define BATON_ERR_ENUM(name, value, msg) name = value,
    BATON_ERRORS(BATON_ERR_ENUM)
#undef BATON_ERR_ENUM
};

/* Returns a static, human-readable description of err (0 or a BATON_E* code).
 * Never returns NULL; unknown codes map to "unknown error". Thread-safe. */
const char *baton_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
