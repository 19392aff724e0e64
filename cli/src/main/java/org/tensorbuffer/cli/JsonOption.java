package org.tensorbuffer.cli;

import picocli.CommandLine.Option;

/** picocli mixin: the {@code --json} switch of the reporting commands. */
final class JsonOption {
    @Option(names = "--json", description = "Print one JSON object (on stdout) instead of text.")
    boolean json;
}
