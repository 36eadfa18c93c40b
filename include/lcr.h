/* lcr.h: public C API of liblcr (placeholder until the client library lands). */
#ifndef LCR_H
#define LCR_H
#endif
