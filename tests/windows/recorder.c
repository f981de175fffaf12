/* A Windows program for the tests under Wine: a window over the whole primary screen that
 * paints a known picture and writes every key, character, button and wheel turn it
 * receives to stdout, one line each, as it gets them (a GetMessage loop).
 *
 *   key down scan=0x1e ext=0 vk=0x41
 *   char 0x0061
 *   button left down 200 100
 *   wheel vertical -120 | wheel horizontal 120
 *
 * Built by the tests with MinGW-w64: x86_64-w64-mingw32-gcc -o recorder.exe recorder.c -lgdi32
 */
#include <windows.h>
#include <stdio.h>

static void say(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    putchar('\n');
    fflush(stdout);
}

/* Eight vertical bars of known colours over a horizontal grey ramp in the lower half: a
 * picture with edges and gradients, the same on every run. */
static void paint(HWND hwnd) {
    PAINTSTRUCT ps;
    HDC dc = BeginPaint(hwnd, &ps);
    RECT r;
    GetClientRect(hwnd, &r);
    int w = r.right, h = r.bottom;
    static const COLORREF bars[8] = {
        RGB(255, 255, 255), RGB(255, 255, 0), RGB(0, 255, 255), RGB(0, 255, 0),
        RGB(255, 0, 255),   RGB(255, 0, 0),   RGB(0, 0, 255),   RGB(0, 0, 0),
    };
    for (int i = 0; i < 8; i++) {
        RECT b = {i * w / 8, 0, (i + 1) * w / 8, h / 2};
        HBRUSH brush = CreateSolidBrush(bars[i]);
        FillRect(dc, &b, brush);
        DeleteObject(brush);
    }
    for (int x = 0; x < w; x += 4) {
        int v = x * 255 / (w > 1 ? w - 1 : 1);
        RECT b = {x, h / 2, x + 4, h};
        HBRUSH brush = CreateSolidBrush(RGB(v, v, v));
        FillRect(dc, &b, brush);
        DeleteObject(brush);
    }
    EndPaint(hwnd, &ps);
}

static const char *button_name(UINT msg, WPARAM wp) {
    switch (msg) {
    case WM_LBUTTONDOWN: case WM_LBUTTONUP: return "left";
    case WM_RBUTTONDOWN: case WM_RBUTTONUP: return "right";
    case WM_MBUTTONDOWN: case WM_MBUTTONUP: return "middle";
    default: return HIWORD(wp) == XBUTTON1 ? "back" : "forward";
    }
}

static LRESULT CALLBACK proc(HWND hwnd, UINT msg, WPARAM wp, LPARAM lp) {
    switch (msg) {
    case WM_PAINT:
        paint(hwnd);
        return 0;
    case WM_KEYDOWN: case WM_SYSKEYDOWN: case WM_KEYUP: case WM_SYSKEYUP: {
        int down = msg == WM_KEYDOWN || msg == WM_SYSKEYDOWN;
        say("key %s scan=0x%02x ext=%d vk=0x%02x", down ? "down" : "up",
            (unsigned)((lp >> 16) & 0xff), (int)((lp >> 24) & 1), (unsigned)wp);
        return 0;
    }
    case WM_CHAR: case WM_SYSCHAR:
        say("char 0x%04x", (unsigned)wp);
        return 0;
    case WM_LBUTTONDOWN: case WM_RBUTTONDOWN: case WM_MBUTTONDOWN: case WM_XBUTTONDOWN:
    case WM_LBUTTONUP: case WM_RBUTTONUP: case WM_MBUTTONUP: case WM_XBUTTONUP: {
        int down = msg == WM_LBUTTONDOWN || msg == WM_RBUTTONDOWN || msg == WM_MBUTTONDOWN ||
                   msg == WM_XBUTTONDOWN;
        say("button %s %s %d %d", button_name(msg, wp), down ? "down" : "up",
            (int)(short)LOWORD(lp), (int)(short)HIWORD(lp));
        return msg == WM_XBUTTONDOWN || msg == WM_XBUTTONUP ? TRUE : 0;
    }
    case WM_MOUSEWHEEL:
        say("wheel vertical %d", (int)(short)HIWORD(wp));
        return 0;
    case WM_MOUSEHWHEEL:
        say("wheel horizontal %d", (int)(short)HIWORD(wp));
        return 0;
    case WM_DESTROY:
        PostQuitMessage(0);
        return 0;
    }
    return DefWindowProcA(hwnd, msg, wp, lp);
}

int main(void) {
    WNDCLASSA wc = {0};
    wc.lpfnWndProc = proc;
    wc.hInstance = GetModuleHandleA(NULL);
    wc.hCursor = LoadCursor(NULL, IDC_ARROW);
    wc.lpszClassName = "TandemRecorder";
    RegisterClassA(&wc);
    int w = GetSystemMetrics(SM_CXSCREEN), h = GetSystemMetrics(SM_CYSCREEN);
    HWND hwnd = CreateWindowExA(WS_EX_TOPMOST, "TandemRecorder", "Tandem recorder",
                                WS_POPUP | WS_VISIBLE, 0, 0, w, h, NULL, NULL, wc.hInstance,
                                NULL);
    if (!hwnd) {
        say("error CreateWindow %lu", GetLastError());
        return 1;
    }
    SetForegroundWindow(hwnd);
    SetFocus(hwnd);
    UpdateWindow(hwnd);
    say("ready %d %d", w, h);
    MSG m;
    while (GetMessageA(&m, NULL, 0, 0) > 0) {
        TranslateMessage(&m);
        DispatchMessageA(&m);
    }
    return 0;
}
