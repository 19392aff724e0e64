package org.tensorbuffer.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** picocli mixin: the {@code --memory-timeline FILE.html} output of {@code decode}, {@code einsum} and {@code compare}. */
final class MemoryTimelineOption {
    @Option(names = "--memory-timeline", paramLabel = "FILE.html", converter = OutputFile.class,
            description = "Record every allocation of the run and write a self-contained HTML page with a timeline "
                    + "of live and reserved bytes and the largest allocations (like PyTorch's memory_viz); the file "
                    + "is checked to be writable before the run. compare: one more untimed decode per strategy, written "
                    + "to FILE-<strategy>.html.")
    Path memoryTimeline;
}
