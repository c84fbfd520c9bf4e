package main

import (
	"bytes"
	"encoding/base64"
	"io"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

type bitcoinNet = chaincfg.Params

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
