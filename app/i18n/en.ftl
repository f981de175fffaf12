# Tandem — English. Every string the person sees lives here (and in it.ftl).
app-title = Tandem
window-title-code = Tandem — Your code
window-title-helping = Tandem — Helping { $name }
window-title-helping-someone = Tandem — Helping someone
window-title-sharing = Tandem — Sharing with { $name }
window-title-overlay = Tandem — Drawings

## Home
home-get-help-title = Get help
home-get-help-body = Enter the code the person helping you reads out.
home-code-label = Code
home-code-placeholder = ABC-DEF-GHJ
home-submit = Submit
home-help-someone-title = Give help
home-help-someone-body = Get a code to read to the person you are helping.
home-help-someone = Help someone
home-signed-in-as = Signed in as { $name }

## Code entry errors
code-error-format = A code has 9 letters and digits, like ABC-DEF-GHJ.
code-error-mistyped = This code doesn’t look right — check it with the person helping you.
code-error-character = “{ $character }” cannot be part of a code. Check it with the person helping you.
code-error-unknown = This code does not exist. Check it with the person helping you.
code-error-expired = This code has expired. Ask for a new one.
code-error-used = This code was already used. Ask for a new one.
code-error-wrong = The code did not match. Ask for a new one.
code-error-rate-limited = Too many attempts. Wait a minute and try again.
code-error-unreachable = Tandem cannot reach its service. Check the internet connection and try again.
code-error-other = Could not connect: { $detail }

## Helper: the code
helper-getting-code = Getting a code…
helper-code-title = Share this code by phone or message
helper-code-expires = The code expires in { $minutes }:{ $seconds }
helper-code-expired = The code has expired.
helper-code-replaced-wrong = Someone entered the code with a mistake, so it cannot be used again. Read out this new code.
helper-code-replaced-abandoned = Someone entered the code and went away, so it cannot be used again. Read out this new code.
helper-copy = Copy
helper-copied = Copied
helper-new-code = New code
helper-cancel = Cancel
helper-waiting = Waiting for the other person to enter the code…
helper-joined = Connecting…
helper-waiting-consent = Waiting for { $name } to allow screen sharing…
helper-waiting-consent-anonymous = Waiting for the other person to allow screen sharing…

## Viewer toolbar
viewer-monitor = Monitor
viewer-monitor-item = { $index }: { $name } ({ $width }×{ $height })
viewer-fit = Fit
viewer-actual-size = Actual size
viewer-pen = Pen
viewer-laser = Laser
viewer-clear = Clear
viewer-chat = Chat
viewer-request-control = Request control
viewer-release-control = Release control
viewer-control-pending = Waiting for an answer…
viewer-end = End
viewer-waiting-picture = Waiting for the first picture…
viewer-paused = Screen sharing is paused.
viewer-paused-by-you = You paused the session.
viewer-pause = Pause
viewer-resume = Resume
viewer-resume-refused = Still paused: { $name } paused the session, and only they can resume it.
viewer-secure-desktop = Waiting for { $name } to answer a Windows prompt. You cannot see or control it; the picture comes back when it closes.
viewer-path-direct = Direct
viewer-path-relayed = Relayed
viewer-stats = { $path } · { $rtt } ms · { $fps } fps
# How the sharer's screen is captured (dxgi, gdi, x11-shm…), after the stats.
viewer-capture = screen: { $method }
viewer-reduced = reduced size
viewer-more = More
viewer-colour = Colour
viewer-colour-red = Red
viewer-colour-yellow = Yellow
viewer-colour-blue = Blue
viewer-colour-green = Green

## Control
control-granted = You control the screen.
control-declined = { $name } declined the request.
control-declined-busy = Wait a moment before asking again.
control-declined-paused = The session is paused.
control-declined-other = Control was not handed over.
control-revoked = { $name } took control back.

## Chat
chat-title = Chat
chat-placeholder = Write a message
chat-send = Send
chat-you = You
chat-empty = No messages yet.

## Sharer
sharer-joining = Connecting…
consent-title = { $name } wants to share your screen
consent-body = { $name } will see everything on your screen until you end the session. You can pause or end at any time.
consent-verified = { $name } · { $organisation }
consent-unverified = { $name } · name not verified: make sure you know who this is
consent-allow = Allow
consent-cancel = Cancel
control-request-title = { $name } wants to control your screen
control-request-body = { $name } will be able to use your mouse and keyboard. You can take control back at any time.
control-allow = Allow
control-decline = Decline
sharing-with = Sharing with { $name }
sharing-control-you = You have control
sharing-control-helper = { $name } has control
sharing-secure-desktop = A Windows prompt is open: answer it yourself. { $name } cannot see or control it, and waits.
sharing-take-back = Take control back
sharing-pause = Pause
sharing-resume = Resume
sharing-chat = Chat
sharing-chat-reply = Reply
sharing-paused = paused
sharing-end = End

## End
ended-title = The session has ended
ended-by-you = You ended the session.
ended-by-peer = { $name } ended the session.
ended-declined = Screen sharing was not allowed.
ended-lost = The connection was lost.
ended-error = The session ended with an error: { $detail }
ended-home = Back to start
ended-no-path = No network path to the other person could be found.
ended-protocol = The other side sent something Tandem does not understand.
home-sign-in-needed = You will sign in with your work or school account first.
home-signed-in-as-dev = { $name } (development identity, not signed in)

## Helper sign-in
sign-in-starting = Starting sign-in…
sign-in-browser-waiting = Finish signing in in your browser, then come back here. If no browser opened, copy the address and open it in one.
sign-in-open-again = Open the browser again
sign-in-copy-address = Copy the address
sign-in-device-open = On your phone or another computer, open { $address } and enter this code:
sign-in-with-code = Sign in with a code on another device
sign-in-cancel = Cancel
sign-in-choose = Which account do you help with?
sign-in-with-provider = Sign in with { $provider }
sign-in-sign-out = Sign out
sign-in-error-unreachable = Cannot reach the sign-in service. Check the internet connection and try again.
sign-in-error-cancelled = Sign-in was cancelled.
sign-in-error-timed-out = Sign-in took too long. Try again.
sign-in-error-expired = Your sign-in has expired. Sign in again.
sign-in-error-no-browser = No browser could be opened here. Sign in with a code on another device instead.
sign-in-error-no-provider = This Tandem service does not offer sign-in.
sign-in-error-other = Sign-in did not work: { $detail }
sign-in-error-session-expired = Your sign-in had expired. Try again: Tandem renews it.
sign-in-error-server-cannot-check = The Tandem service cannot check sign-ins right now. Try again in a few minutes.
sign-in-error-not-accepted = The Tandem service did not accept your sign-in: { $detail }
peer-anonymous = The other person
viewer-reconnecting = Reconnecting… the connection to the other side dropped.
sharing-reconnecting = Reconnecting… the network dropped. { $name } cannot see or control your screen until it is back.

# Clipboard sharing
viewer-share-clipboard = Share clipboard
viewer-clipboard-pending = Clipboard: waiting…
viewer-stop-clipboard = Stop clipboard
clipboard-request-title = { $name } wants to use your clipboard
clipboard-request-body = What you copy will reach { $name }, and what { $name } copies will reach your clipboard. Nothing crosses while the session is paused. You can stop it at any time.
sharing-stop-clipboard = Stop clipboard
clipboard-granted = Clipboards are shared: what you copy reaches the other side, and back.
clipboard-declined = { $name } declined clipboard sharing.
clipboard-not-possible = The clipboard cannot be shared on one of the two computers.
clipboard-stopped = { $name } stopped clipboard sharing.
clipboard-received = The other side's copy is on your clipboard.
clipboard-too-large = Your copy is larger than 1 MB: it was not sent.
chat-type-as-keys = Type it on their computer
sharing-clipboard-shared = Clipboard shared with { $name }

# Files
viewer-send-file = Send file…
viewer-ask-file = Ask for a file
file-choose-title = Choose a file to send
file-offer-title = { $name } wants to send you a file
file-offer-body = “{ $file }” ({ $size }). It will be saved in the Tandem folder in your Downloads, never over another file. Open it only if you expected it.
file-accept = Accept
file-decline = Decline
file-request-title = { $name } asks for a file from your computer
file-request-body = Choose the file to send, or decline. Only the file you choose is sent.
file-choose = Choose file…
file-unnamed = A file
file-waiting-accept = Waiting for { $name } to accept it
file-waiting-choice = Waiting for { $name } to choose a file
file-waiting-you = Waiting for your answer
file-moving-send = Sending
file-moving-receive = Receiving
file-progress = { $percent }% · { $speed }/s · { $left }
file-left-unknown = estimating the time left
file-left-secs = { $secs } s left
file-done-sent = Delivered whole
file-done-received = Saved as { $path }
file-open-folder = Open folder
file-cancel = Cancel
file-dismiss = OK
file-cancelled-by-you = Cancelled: nothing of it was kept
file-cancelled-by-peer = Cancelled by { $name }: nothing of it was kept
file-no-chooser = This desktop has no file chooser: drag the file onto the window instead.
file-refusal-declined = Not sent: the other person declined it
file-refusal-too-large = Not sent: it is larger than the other computer accepts
file-refusal-too-many = Not sent: this session has sent as many files as allowed
file-refusal-busy = Not sent: too many files at once; try again in a moment
file-refusal-bad-name = Refused: its name is not safe to save
file-refusal-paused = Not sent: the session is paused
file-refusal-unavailable = Not sent: the other computer has nowhere to save it
file-refusal-corrupted = Not kept: it arrived damaged
file-refusal-failed = Not sent: it could not be read or saved
file-refusal-not-asked = Not sent: nobody asked for a file
file-refusal-too-soon = Not sent: declined a moment ago; wait a little before asking again
file-offer-program = This is a program: open it only if you asked { $name } for it.
file-refusal-stalled = Stopped: nothing of it arrived for a minute; nothing of it was kept
