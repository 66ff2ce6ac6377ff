#!/usr/bin/env bash
# torchvision models exported at opset newest, run by convnet run against PyTorch (or a SKIP line): see
# tests/onnx/run_big.sh. $1: the convnet binary, $2: the source directory.
exec bash "$2/tests/onnx/run_big.sh" "$1" "$2" newest
