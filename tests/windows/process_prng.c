/* Wine 8.0 (Debian 12) lacks bcryptprimitives.dll!ProcessPrng, which Rust's std (1.78+)
 * imports for its random numbers: without it a Rust program exits at load. This stand-in,
 * for the tests under Wine only (real Windows 10 and later have the DLL), fills the buffer
 * from the system's RtlGenRandom, which Wine has.
 *
 * x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll process_prng.c -ladvapi32 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
