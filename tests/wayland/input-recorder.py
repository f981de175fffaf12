#!/usr/bin/python3
"""A Wayland-native window (GTK 4) that fills the screen — blank, or showing the PNG named
as its argument pixel for pixel — and prints, one JSON object per line, every key and
button it receives: what the Wayland sharer's tests read.

Keys carry the hardware keycode (evdev + 8, the physical key) and the keyval the
desktop's keyboard layout made of it."""

import json
import sys

import gi

gi.require_version("Gtk", "4.0")
gi.require_version("Gdk", "4.0")
from gi.repository import Gdk, Gtk  # noqa: E402


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def on_activate(app):
    window = Gtk.ApplicationWindow(application=app, title="tandem input recorder")
    if len(sys.argv) > 1:
        area = Gtk.Picture.new_for_filename(sys.argv[1])
        area.set_can_shrink(True)
    else:
        area = Gtk.DrawingArea()
    area.set_focusable(True)
    window.set_child(area)

    keys = Gtk.EventControllerKey()

    def key(_c, keyval, keycode, _state, down):
        emit(event="key", keycode=keycode, keyval=keyval,
             name=Gdk.keyval_name(keyval), down=down)
        return True

    keys.connect("key-pressed", lambda c, v, k, s: key(c, v, k, s, True))
    keys.connect("key-released", lambda c, v, k, s: key(c, v, k, s, False))
    window.add_controller(keys)

    clicks = Gtk.GestureClick()
    clicks.set_button(0)
    clicks.connect("pressed", lambda g, n, x, y: emit(
        event="button", button=g.get_current_button(), down=True, x=round(x), y=round(y)))
    clicks.connect("released", lambda g, n, x, y: emit(
        event="button", button=g.get_current_button(), down=False, x=round(x), y=round(y)))
    area.add_controller(clicks)

    scroll = Gtk.EventControllerScroll(
        flags=Gtk.EventControllerScrollFlags.BOTH_AXES | Gtk.EventControllerScrollFlags.DISCRETE)
    scroll.connect("scroll", lambda c, dx, dy: emit(event="scroll", dx=dx, dy=dy) or True)
    area.add_controller(scroll)

    window.connect("map", lambda _w: emit(event="ready"))
    window.fullscreen()
    window.present()
    area.grab_focus()


app = Gtk.Application(application_id="dev.tandem.InputRecorder")
app.connect("activate", on_activate)
app.run([sys.argv[0]])
