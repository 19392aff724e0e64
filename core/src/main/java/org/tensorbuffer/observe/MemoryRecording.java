package org.tensorbuffer.observe;

import java.io.IOException;
import java.nio.file.Path;

/**
 * What a command or workload should record of its memory and where to write it: the options behind the CLI's
 * {@code --memory-timeline FILE.html}, {@code --memory-snapshot FILE.pickle} and {@code --stacks}.
 *
 * <pre>{@code
 * MemoryRecording rec = new MemoryRecording(Path.of("t.html"), Path.of("s.pickle"), true, "decode stories15M.bin");
 * MemoryHistory h = rec.start(ctx);      // null when nothing is to be written
 * ... workload ...
 * rec.finish(h);                          // stops and writes both files
 * }</pre>
 *
 * @param timelineHtml   the timeline page to write ({@link MemoryTimelineHtml}), or {@code null}
 * @param snapshotPickle the PyTorch memory snapshot to write ({@link TorchMemorySnapshot}), or {@code null}
 * @param stacks         whether to record each allocation's Java stack (a stack walk per allocation)
 * @param description    what ran (model or instance, command line), shown on the page and stored in the snapshot;
 *                       may be {@code null}
 */
public record MemoryRecording(Path timelineHtml, Path snapshotPickle, boolean stacks, String description) {
    /** Records nothing. */
    public static MemoryRecording none() {
        return new MemoryRecording(null, null, false, null);
    }

    /** Whether there is anything to write. */
    public boolean enabled() {
        return timelineHtml != null || snapshotPickle != null;
    }

    /** The same with another description. */
    public MemoryRecording withDescription(String text) {
        return new MemoryRecording(timelineHtml, snapshotPickle, stacks, text);
    }

    /**
     * Starts recording {@code ctx} ({@link MemoryHistory#record(MemorySource, int, boolean)}), or returns
     * {@code null} when nothing is to be written.
     */
    public MemoryHistory start(MemorySource ctx) {
        if (!enabled()) {
            return null;
        }
        MemoryHistory h = MemoryHistory.record(ctx, MemoryHistory.DEFAULT_CAPACITY, stacks);
        h.description(description);
        return h;
    }

    /**
     * Stops {@code history} and writes the files asked for; does nothing for {@code null}.
     *
     * @throws IOException if a file cannot be written
     */
    public void finish(MemoryHistory history) throws IOException {
        if (history == null) {
            return;
        }
        history.stop();
        if (timelineHtml != null) {
            history.writeHtml(timelineHtml);
        }
        if (snapshotPickle != null) {
            history.writeSnapshot(snapshotPickle);
        }
    }
}
