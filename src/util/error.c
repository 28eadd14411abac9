/* baton_strerror(): the message half of the X-macro error table. */
#include "baton/error.h"

const char *baton_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define BATON_ERR_CASE(name, value, msg) \
    case name:                           \
        return msg;
        BATON_ERRORS(BATON_ERR_CASE)
#undef BATON_ERR_CASE
    default:
        return "unknown error";
    }
}
