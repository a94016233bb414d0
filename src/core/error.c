/* Messages for the SL_E* error codes of sluice.h. */
#include "sluice.h"

const char *sl_strerror(int err) {
    switch (err < 0 ? -err : err) {
    case SL_OK: return "ok";
    case SL_ENOMEM: return "out of memory";
    case SL_EIO: return "I/O error";
    case SL_ENOSPC: return "disk full";
    case SL_EINVAL: return "invalid argument";
    case SL_ENOTFOUND: return "not found";
    case SL_EEXIST: return "already exists";
    case SL_ERANGE: return "offset out of range";
    case SL_ECORRUPT: return "corrupt data";
    case SL_ESTALE: return "stale generation";
    case SL_ENOTASSIGNED: return "partition not assigned to this member";
    case SL_ECLOSED: return "closing";
    case SL_ETOOBIG: return "too large";
    case SL_EFAILED: return "partition failed after an fsync error; restart to recover";
    case SL_ENOLEADER: return "no leader right now; retry";
    case SL_EUNAVAIL: return "the responsible node cannot be reached; retry";
    case SL_ETIMEDOUT: return "timed out; the write may or may not have happened: retry with the same sequence";
    case SL_ESEQUENCE: return "sequence number lower than the last one accepted from this producer";
    case SL_ECONFLICT: return "conflicts with the cluster's state";
    case SL_EREMOVED: return "this node was removed from the cluster; ask another node";
    }
    return "unknown error";
}
