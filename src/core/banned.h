/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Functions we never call: unbounded copies, non-reentrant parsers, silent
 * conversions. Force-included into every .c file by the Makefile (-include),
 * so a use is a compile error (git's banned.h). The system headers that
 * declare these are included first, so their own inline definitions compile
 * and later #includes of them are no-ops.
 */
#ifndef TR_CORE_BANNED_H
#define TR_CORE_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TR_BANNED(func) sorry_##func##_is_banned_in_trellis

#undef strcpy
#define strcpy(x, y) TR_BANNED(strcpy)
#undef strcat
#define strcat(x, y) TR_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) TR_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) TR_BANNED(strncat)
#undef sprintf
#define sprintf(...) TR_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) TR_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) TR_BANNED(strtok)
#undef atoi
#define atoi(x) TR_BANNED(atoi)
#undef atol
#define atol(x) TR_BANNED(atol)
#undef atof
#define atof(x) TR_BANNED(atof)
#undef gets
#define gets(x) TR_BANNED(gets)
#undef system
#define system(x) TR_BANNED(system)
#undef popen
#define popen(x, y) TR_BANNED(popen)
#undef gmtime
#define gmtime(x) TR_BANNED(gmtime)
#undef localtime
#define localtime(x) TR_BANNED(localtime)

#endif
