; Tandem's Windows installer (NSIS, made on Linux by scripts/build-windows.sh).
; Per user, no administrator rights: Tandem never needs them (see the README's Windows
; section), and a person being helped should not be asked for them to install it.
Unicode true
; Tandem is a 64-bit program; a 64-bit installer also runs where only 64-bit Wine is.
Target amd64-unicode
!include "MUI2.nsh"

!ifndef VERSION
  !error "pass -DVERSION=..."
!endif

Name "Tandem"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\Tandem"
InstallDirRegKey HKCU "Software\Tandem" "InstallDir"
RequestExecutionLevel user
; Small for releases; the tests' debug builds pass -DCOMPRESSOR=zlib (fast).
!ifdef COMPRESSOR
  SetCompressor ${COMPRESSOR}
!else
  SetCompressor /SOLID lzma
!endif

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "Italian"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Tandem"

Section "Tandem"
  SetOutPath "$INSTDIR"
  File "${STAGE}\tandem.exe"
  ; MinGW's C++ runtime, which tandem.exe needs beside it.
  File "${STAGE}\*.dll"
  File "${STAGE}\README.txt"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortCut "$SMPROGRAMS\Tandem.lnk" "$INSTDIR\tandem.exe" "" "$INSTDIR\tandem.exe" 0
  WriteRegStr HKCU "Software\Tandem" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "Tandem"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "The Tandem developers"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\tandem.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  Delete "$SMPROGRAMS\Tandem.lnk"
  Delete "$INSTDIR\tandem.exe"
  Delete "$INSTDIR\libstdc++-6.dll"
  Delete "$INSTDIR\libgcc_s_seh-1.dll"
  Delete "$INSTDIR\libwinpthread-1.dll"
  Delete "$INSTDIR\README.txt"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "Software\Tandem"
SectionEnd
