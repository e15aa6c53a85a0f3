/* hostile.h: hostile request bodies, as hex, shared by the decoder tests and the over-the-socket
 * tests. */
#ifndef HOSTILE_H
#define HOSTILE_H

static const char *const hostile_messages[] = {
    "91 dd ff ff ff ff 00 00 00 00",                   /* array header claiming 2^32-1 */
    "81 a1 76 dd ff ff ff ff 01 01",                   /* the same, under a key */
    "81 a1 76 df ff ff ff ff 01 01",                   /* a map header claiming 2^32-1 */
    "81 a1 76 db 40 00 00 00 41 41",                   /* a 1 GiB string in 10 bytes */
    "82 a1 76 01 a2 6f 70 cb 40 00",                   /* truncation */
    "82 a1 76 01 a2 6f 70 a4 70 69 6e 67 00 00 00 00", /* trailing garbage */
    "82 a1 76 01 a2 6f 70 a3 ff fe fd",                /* invalid UTF-8 */
    "82 a1 76 01 a2 6f 70 cb 7f f8 00 00 00 00 00 00", /* NaN */
    "80",                                              /* an empty map */
    /* 100-deep nesting under "v" */
    "81 a1 76 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 "
    "91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 "
    "91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 "
    "91 91 91 91 91 91 91 91 91 91 91 91 c0",
};

#define HOSTILE_COUNT (sizeof(hostile_messages) / sizeof(hostile_messages[0]))

#endif
