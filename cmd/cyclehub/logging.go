package main

import (
	"io"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/configs"
)

// newLogger builds the one logger of the process; components get entries
// with component=… from it.
func newLogger(cfg configs.LogConfig, out io.Writer) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(out)
	if cfg.Format == "text" {
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	} else {
		log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	}
	if lvl, err := logrus.ParseLevel(cfg.Level); err == nil {
		log.SetLevel(lvl)
	}
	return log
}
