package org.tensorbuffer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorbuffer.observe.TorchSnapshotChecks;

/**
 * {@code --memory-snapshot} and {@code --stacks}: snapshots of a real decode and a real einsum load in PyTorch's own
 * readers ({@code torch.cuda._memory_viz} under python3-torch, and MemoryViz.js in headless Chromium).
 */
class MemorySnapshotOptionTest {

    @Test
    void decodeSnapshotLoadsInPytorchsReaders(@TempDir Path dir) throws Exception {
        Path model = Path.of("..", "models", "stories260K.bin");
        Path pickle = dir.resolve("decode.pickle");
        Path html = dir.resolve("decode.html");
        CliRun r = CliRun.of("decode", "--model", model.toString(), "--temperature", "0", "--steps", "16",
                "--print-ids", "--memory-timeline", html.toString(), "--memory-snapshot", pickle.toString(),
                "--stacks");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("memory snapshot written to " + pickle);
        assertThat(Files.readString(html)).contains("decode stories260K.bin (proactive, cpu)")
                .contains("./tensorbuffer decode --model").contains("weights included")
                .contains("DecodeRun.java");
        check(pickle, "decode", true);
    }

    @Test
    void einsumSnapshotLoadsInPytorchsReaders(@TempDir Path dir) throws Exception {
        Path instance = Path.of("..", "data", "einsum", "tensornetwork_permutation_light_415.json");
        Path pickle = dir.resolve("einsum.pickle");
        CliRun r = CliRun.of("einsum", instance.toString(), "--repeat", "1", "--warmup", "0", "--json",
                "--memory-snapshot", pickle.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"memory_snapshot\"");
        check(pickle, "einsum", false);
    }

    private static void check(Path pickle, String what, boolean stacks) throws Exception {
        String pySkip = TorchSnapshotChecks.pythonSkipReason();
        if (pySkip == null) {
            Map<String, String> py = TorchSnapshotChecks.python(pickle);
            assertThat(Long.parseLong(py.get("segments"))).isPositive();
            assertThat(Long.parseLong(py.get("trace.alloc"))).isPositive();
            assertThat(Long.parseLong(py.get("active_allocated")) + Long.parseLong(py.get("inactive")))
                    .isEqualTo(Long.parseLong(py.get("total_size")));
            if (stacks) {
                assertThat(Long.parseLong(py.get("java_frames"))).isPositive();
            }
        }
        String vizSkip = TorchSnapshotChecks.memoryVizSkipReason();
        if (vizSkip == null) {
            Path png = Path.of("target", "memoryviz-" + what + ".png");
            Files.createDirectories(png.getParent());
            TorchSnapshotChecks.Render render = TorchSnapshotChecks.memoryViz(pickle, "Active Memory Timeline", png);
            assertThat(render.errors()).as(render.page().toString()).isEmpty();
            assertThat(render.colouredPixels()).as("coloured pixels in " + png).isGreaterThan(500);
        }
        Assumptions.assumeTrue(pySkip == null && vizSkip == null,
                "not every PyTorch check ran: " + (pySkip != null ? pySkip : "") + " " + (vizSkip != null ? vizSkip
                        : ""));
    }
}
