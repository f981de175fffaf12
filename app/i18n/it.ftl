# Tandem — italiano. Stesse chiavi di en.ftl.
app-title = Tandem
window-title-code = Tandem — Il tuo codice
window-title-helping = Tandem — Stai aiutando { $name }
window-title-helping-someone = Tandem — Stai aiutando qualcuno
window-title-sharing = Tandem — Condivisione con { $name }
window-title-overlay = Tandem — Disegni

## Home
home-get-help-title = Ricevi assistenza
home-get-help-body = Inserisci il codice che ti legge la persona che ti aiuta.
home-code-label = Codice
home-code-placeholder = ABC-DEF-GHJ
home-submit = Invia
home-help-someone-title = Offri aiuto
home-help-someone-body = Ottieni un codice da leggere alla persona che stai aiutando.
home-help-someone = Aiuta qualcuno
home-signed-in-as = Accesso eseguito come { $name }

## Code entry errors
code-error-format = Un codice ha 9 lettere e cifre, come ABC-DEF-GHJ.
code-error-mistyped = Questo codice non sembra giusto: controllalo con chi ti aiuta.
code-error-character = «{ $character }» non può far parte di un codice. Verificalo con chi ti aiuta.
code-error-unknown = Questo codice non esiste. Verificalo con chi ti aiuta.
code-error-expired = Questo codice è scaduto. Chiedine uno nuovo.
code-error-used = Questo codice è già stato usato. Chiedine uno nuovo.
code-error-wrong = Il codice non corrisponde. Chiedine uno nuovo.
code-error-rate-limited = Troppi tentativi. Attendi un minuto e riprova.
code-error-unreachable = Tandem non riesce a raggiungere il servizio. Controlla la connessione a internet e riprova.
code-error-other = Impossibile connettersi: { $detail }

## Helper: the code
helper-getting-code = Richiesta del codice…
helper-code-title = Comunica questo codice per telefono o con un messaggio
helper-code-expires = Il codice scade tra { $minutes }:{ $seconds }
helper-code-expired = Il codice è scaduto.
helper-code-replaced-wrong = Qualcuno ha inserito il codice con un errore, quindi non è più valido. Leggi questo nuovo codice.
helper-code-replaced-abandoned = Qualcuno ha inserito il codice e se n’è andato, quindi non è più valido. Leggi questo nuovo codice.
helper-copy = Copia
helper-copied = Copiato
helper-new-code = Nuovo codice
helper-cancel = Annulla
helper-waiting = In attesa che l'altra persona inserisca il codice…
helper-joined = Connessione in corso…
helper-waiting-consent = In attesa che { $name } consenta la condivisione dello schermo…
helper-waiting-consent-anonymous = In attesa che l'altra persona consenta la condivisione dello schermo…

## Viewer toolbar
viewer-monitor = Schermo
viewer-monitor-item = { $index }: { $name } ({ $width }×{ $height })
viewer-fit = Adatta
viewer-actual-size = Dimensioni reali
viewer-pen = Penna
viewer-laser = Puntatore laser
viewer-clear = Cancella
viewer-chat = Chat
viewer-request-control = Richiedi il controllo
viewer-release-control = Rilascia il controllo
viewer-control-pending = In attesa di risposta…
viewer-end = Termina
viewer-waiting-picture = In attesa della prima immagine…
viewer-paused = La condivisione dello schermo è in pausa.
viewer-paused-by-you = Hai messo in pausa la sessione.
viewer-pause = Pausa
viewer-resume = Riprendi
viewer-resume-refused = Ancora in pausa: { $name } ha messo in pausa la sessione e solo lui o lei può riprenderla.
viewer-secure-desktop = In attesa che { $name } risponda a una richiesta di Windows. Non puoi vederla né controllarla; l'immagine torna quando si chiude.
viewer-path-direct = Diretta
viewer-path-relayed = Tramite relay
viewer-stats = { $path } · { $rtt } ms · { $fps } fps
# How the sharer's screen is captured (dxgi, gdi, x11-shm…), after the stats.
viewer-capture = schermo: { $method }
viewer-reduced = risoluzione ridotta
viewer-more = Altro
viewer-colour = Colore
viewer-colour-red = Rosso
viewer-colour-yellow = Giallo
viewer-colour-blue = Blu
viewer-colour-green = Verde

## Control
control-granted = Hai il controllo dello schermo.
control-declined = { $name } ha rifiutato la richiesta.
control-declined-busy = Attendi un momento prima di chiedere di nuovo.
control-declined-paused = La sessione è in pausa.
control-declined-other = Il controllo non è stato concesso.
control-revoked = { $name } ha ripreso il controllo.

## Chat
chat-title = Chat
chat-placeholder = Scrivi un messaggio
chat-send = Invia
chat-you = Tu
chat-empty = Ancora nessun messaggio.

## Sharer
sharer-joining = Connessione in corso…
consent-title = { $name } vuole condividere il tuo schermo
consent-body = { $name } vedrà tutto ciò che è sul tuo schermo finché non termini la sessione. Puoi mettere in pausa o terminare in qualsiasi momento.
consent-verified = { $name } · { $organisation }
consent-unverified = { $name } · nome non verificato: assicurati di sapere chi è
consent-allow = Consenti
consent-cancel = Annulla
control-request-title = { $name } vuole controllare il tuo schermo
control-request-body = { $name } potrà usare il tuo mouse e la tua tastiera. Puoi riprendere il controllo in qualsiasi momento.
control-allow = Consenti
control-decline = Rifiuta
sharing-with = Condivisione con { $name }
sharing-control-you = Hai il controllo
sharing-control-helper = { $name } ha il controllo
sharing-secure-desktop = È aperta una richiesta di Windows: rispondi tu. { $name } non può vederla né controllarla, e aspetta.
sharing-take-back = Riprendi il controllo
sharing-pause = Pausa
sharing-resume = Riprendi
sharing-chat = Chat
sharing-chat-reply = Rispondi
sharing-paused = in pausa
sharing-end = Termina

## End
ended-title = La sessione è terminata
ended-by-you = Hai terminato la sessione.
ended-by-peer = { $name } ha terminato la sessione.
ended-declined = La condivisione dello schermo non è stata consentita.
ended-lost = La connessione si è interrotta.
ended-error = La sessione è terminata con un errore: { $detail }
ended-home = Torna all'inizio
ended-no-path = Non è stato trovato un percorso di rete verso l'altra persona.
ended-protocol = L'altra parte ha inviato qualcosa che Tandem non comprende.
home-sign-in-needed = Prima accederai con il tuo account di lavoro o della scuola.
home-signed-in-as-dev = { $name } (identità di sviluppo, accesso non eseguito)

## Accesso di chi aiuta
sign-in-starting = Avvio dell'accesso…
sign-in-browser-waiting = Completa l'accesso nel browser, poi torna qui. Se non si è aperto nessun browser, copia l'indirizzo e aprilo in un browser.
sign-in-open-again = Apri di nuovo il browser
sign-in-copy-address = Copia l'indirizzo
sign-in-device-open = Sul telefono o su un altro computer apri { $address } e inserisci questo codice:
sign-in-with-code = Accedi con un codice da un altro dispositivo
sign-in-cancel = Annulla
sign-in-choose = Con quale account offri aiuto?
sign-in-with-provider = Accedi con { $provider }
sign-in-sign-out = Esci
sign-in-error-unreachable = Impossibile raggiungere il servizio di accesso. Controlla la connessione a internet e riprova.
sign-in-error-cancelled = L'accesso è stato annullato.
sign-in-error-timed-out = L'accesso ha richiesto troppo tempo. Riprova.
sign-in-error-expired = L'accesso è scaduto. Accedi di nuovo.
sign-in-error-no-browser = Qui non è stato possibile aprire un browser. Accedi invece con un codice da un altro dispositivo.
sign-in-error-no-provider = Questo servizio Tandem non offre l'accesso.
sign-in-error-other = L'accesso non è riuscito: { $detail }
sign-in-error-session-expired = L'accesso era scaduto. Riprova: Tandem lo rinnova.
sign-in-error-server-cannot-check = Il servizio Tandem al momento non può verificare gli accessi. Riprova tra qualche minuto.
sign-in-error-not-accepted = Il servizio Tandem non ha accettato il tuo accesso: { $detail }
peer-anonymous = L'altra persona
viewer-reconnecting = Riconnessione… il collegamento con l'altra parte si è interrotto.
sharing-reconnecting = Riconnessione… la rete si è interrotta. { $name } non può vedere né controllare il tuo schermo finché non torna.

# Condivisione degli appunti
viewer-share-clipboard = Condividi gli appunti
viewer-clipboard-pending = Appunti: in attesa…
viewer-stop-clipboard = Smetti di condividere gli appunti
clipboard-request-title = { $name } vuole usare i tuoi appunti
clipboard-request-body = Ciò che copi arriverà a { $name }, e ciò che { $name } copia arriverà nei tuoi appunti. Durante una pausa non passa nulla. Puoi smettere in qualsiasi momento.
sharing-stop-clipboard = Smetti di condividere gli appunti
clipboard-granted = Gli appunti sono condivisi: ciò che copi arriva all'altra parte, e viceversa.
clipboard-declined = { $name } ha rifiutato la condivisione degli appunti.
clipboard-not-possible = Gli appunti non si possono condividere su uno dei due computer.
clipboard-stopped = { $name } ha smesso di condividere gli appunti.
clipboard-received = La copia dell'altra parte è nei tuoi appunti.
clipboard-too-large = La tua copia supera 1 MB: non è stata inviata.
chat-type-as-keys = Digitalo sul suo computer
sharing-clipboard-shared = Appunti condivisi con { $name }

# File
viewer-send-file = Invia file…
viewer-ask-file = Chiedi un file
file-choose-title = Scegli un file da inviare
file-offer-title = { $name } vuole inviarti un file
file-offer-body = «{ $file }» ({ $size }). Sarà salvato nella cartella Tandem dentro Scaricati, mai sopra un altro file. Aprilo solo se te lo aspettavi.
file-accept = Accetta
file-decline = Rifiuta
file-request-title = { $name } chiede un file dal tuo computer
file-request-body = Scegli il file da inviare, oppure rifiuta. Viene inviato solo il file che scegli.
file-choose = Scegli file…
file-unnamed = Un file
file-waiting-accept = In attesa che { $name } lo accetti
file-waiting-choice = In attesa che { $name } scelga un file
file-waiting-you = In attesa della tua risposta
file-moving-send = Invio
file-moving-receive = Ricezione
file-progress = { $percent }% · { $speed }/s · { $left }
file-left-unknown = calcolo del tempo rimanente
file-left-secs = ancora { $secs } s
file-done-sent = Consegnato integro
file-done-received = Salvato come { $path }
file-open-folder = Apri cartella
file-cancel = Annulla
file-dismiss = OK
file-cancelled-by-you = Annullato: non ne è rimasto nulla
file-cancelled-by-peer = Annullato da { $name }: non ne è rimasto nulla
file-no-chooser = Su questo desktop non c'è una finestra per scegliere i file: trascina il file sulla finestra.
file-refusal-declined = Non inviato: l'altra persona l'ha rifiutato
file-refusal-too-large = Non inviato: è più grande di quanto l'altro computer accetti
file-refusal-too-many = Non inviato: questa sessione ha già inviato tutti i file consentiti
file-refusal-busy = Non inviato: troppi file insieme; riprova tra poco
file-refusal-bad-name = Rifiutato: il suo nome non è sicuro da salvare
file-refusal-paused = Non inviato: la sessione è in pausa
file-refusal-unavailable = Non inviato: l'altro computer non ha dove salvarlo
file-refusal-corrupted = Non tenuto: è arrivato danneggiato
file-refusal-failed = Non inviato: non è stato possibile leggerlo o salvarlo
file-refusal-not-asked = Non inviato: nessuno ha chiesto un file
file-refusal-too-soon = Non inviato: rifiutato poco fa; aspetta un momento prima di chiedere di nuovo
file-offer-program = Questo è un programma: aprilo solo se l'hai chiesto tu a { $name }.
file-refusal-stalled = Interrotto: non ne è arrivato nulla per un minuto; non ne è rimasto nulla
