package controller

import "go.uber.org/zap/zapcore"

func zapLevel(l int8) zapcore.LevelEnabler { return zapcore.Level(l) }
