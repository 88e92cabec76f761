#!/usr/bin/env bash
# System packages posbon's media stage needs: Tesseract OCR with the region's language data, the
# script-level models used for the first pass, the headers tesserocr compiles against, and fonts
# for the generated test posters. Idempotent; never fails the build when apt is unavailable.
set -u
PACKAGES=(tesseract-ocr tesseract-ocr-osd tesseract-ocr-tgk tesseract-ocr-uzb tesseract-ocr-uzb-cyrl tesseract-ocr-rus tesseract-ocr-fas tesseract-ocr-pus tesseract-ocr-ara tesseract-ocr-eng tesseract-ocr-kaz tesseract-ocr-kir tesseract-ocr-script-cyrl tesseract-ocr-script-arab tesseract-ocr-script-latn libtesseract-dev libleptonica-dev pkg-config g++ fonts-noto-core fonts-dejavu-core chromium cmake libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavdevice-dev libavfilter-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: cannot install ${missing[*]} (needs apt-get as root); OCR may be unavailable"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  echo "system-deps: installed ${missing[*]}"
else
  echo "system-deps: apt-get could not install ${missing[*]}; OCR may be unavailable"
fi
exit 0
