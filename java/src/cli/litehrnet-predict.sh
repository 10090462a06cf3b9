#!/bin/sh
# litehrnet-predict: lite-hrnet predict on the JVM (installed next to lite-hrnet.jar and
# liblitehrnet_jni.so by `make java`; needs Java 11+ on PATH, or JAVA=/path/to/java).
here=$(dirname "$(readlink -f "$0")")
java=${JAVA:-java}
if [ -n "${LITEHRNET_VERBOSE:-}" ] && [ "$LITEHRNET_VERBOSE" != 0 ]; then
    exec "$java" -Dlitehrnet.jni.library="$here/liblitehrnet_jni.so" -cp "$here/lite-hrnet.jar" \
        io.github.litehrnet.cli.PredictMain "$@"
fi
# LiteRT logs INFO lines to stderr while it loads a model (as litehrnet-predict in C, they go to
# /dev/null unless LITEHRNET_VERBOSE is set); the tool's own messages go to the original stderr.
exec 3>&2
exec "$java" -Dlitehrnet.jni.library="$here/liblitehrnet_jni.so" -Dlitehrnet.predict.stderr=/dev/fd/3 \
    -cp "$here/lite-hrnet.jar" io.github.litehrnet.cli.PredictMain "$@" 2>/dev/null
