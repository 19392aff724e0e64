package org.tensorbuffer.cli;

import java.nio.file.Path;
import java.util.List;
import org.tensorbuffer.observe.MemoryRecording;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * The options {@code --memory-snapshot FILE.pickle} and {@code --stacks} of {@code decode}, {@code einsum} and
 * {@code compare} (a picocli mixin), with the command's own {@code --memory-timeline} turned into a
 * {@link MemoryRecording}.
 */
final class MemorySnapshotOptions {
    @Option(names = "--memory-snapshot", paramLabel = "FILE.pickle",
            description = "Record every allocation and write a PyTorch memory snapshot (the pickle of "
                    + "torch.cuda.memory._dump_snapshot: segments with their blocks, device_traces) for PyTorch's "
                    + "memory viewer (drag it onto pytorch.org/memory_viz) or torch.cuda._memory_viz.")
    Path memorySnapshot;

    @Option(names = "--stacks",
            description = "With --memory-timeline or --memory-snapshot: keep each allocation's Java stack (file, "
                    + "line, method), shown in the timeline's table and as the snapshot's frames. Costs a stack walk "
                    + "per allocation.")
    boolean stacks;

    /** The recording asked for, described by what ran and the command line. */
    MemoryRecording recording(Path memoryTimeline, String what, CommandSpec spec) {
        return new MemoryRecording(memoryTimeline, memorySnapshot, stacks, what + " \u00b7 " + commandLine(spec));
    }

    /** The command line as typed (arguments quoted for a POSIX shell where needed). */
    static String commandLine(CommandSpec spec) {
        var parsed = spec == null ? null : spec.commandLine().getParseResult();
        List<String> args = parsed == null ? List.of(spec == null ? "" : spec.name()) : parsed.originalArgs();
        StringBuilder b = new StringBuilder("./tensorbuffer");
        if (parsed != null && !args.isEmpty() && !args.get(0).equals(spec.name())) {
            b.append(' ').append(spec.name());
        }
        for (String a : args) {
            b.append(' ').append(a.matches("[A-Za-z0-9_./=,:+@%-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        return b.toString();
    }
}
