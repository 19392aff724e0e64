package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The committed PTX without a GPU (issue 19, item 1): it is what {@code scripts/build-ptx.sh} makes from
 * {@code kernels.cu} today (stale PTX fails the build), and {@code ptxas} assembles it for the GPUs people have,
 * sm_75 (Turing) to sm_100 (Blackwell). Prints the matrix: per architecture, entries assembled, the largest register
 * count and shared memory of any entry, spills. Skipped with a message where nvcc/ptxas are not installed.
 */
class PtxBuildTest {
    /** Turing, Ampere (A100), Ampere (consumer), Ada, Hopper, Blackwell. */
    static final List<String> ARCHS = List.of("sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100");

    private static final Path COMMITTED = Path.of("src/main/resources/org/tensorbuffer/cuda/kernels.ptx");

    @Test
    void committedPtxIsWhatBuildPtxMakesFromKernelsCu() throws Exception {
        Path nvcc = CudaToolkit.require("nvcc");
        Path module = CudaToolkit.moduleDir();
        Path out = CudaToolkit.scratch("ptx-check").resolve("kernels.ptx");
        Files.deleteIfExists(out);
        CudaToolkit.Result r = CudaToolkit.run(module, List.of("bash", "scripts/build-ptx.sh"),
                List.of("NVCC=" + nvcc, "PTX_OUT=" + out), 300);
        assertThat(r.status()).as("build-ptx.sh:\n%s", r.output()).isZero();
        List<String> fresh = Files.readAllLines(out);
        List<String> committed = Files.readAllLines(module.resolve(COMMITTED));
        int firstDiff = -1;
        for (int i = 0; i < Math.max(fresh.size(), committed.size()); i++) {
            String a = i < committed.size() ? committed.get(i) : "<end of file>";
            String b = i < fresh.size() ? fresh.get(i) : "<end of file>";
            if (!a.equals(b)) {
                firstDiff = i;
                break;
            }
        }
        int line = firstDiff;
        assertThat(firstDiff).as(() -> "kernels.ptx is stale: it differs from build-ptx.sh's output from line "
                + (line + 1) + " (committed: " + (line < committed.size() ? committed.get(line) : "<end>")
                + " | fresh: " + (line < fresh.size() ? fresh.get(line) : "<end>")
                + "); run device-cuda/scripts/build-ptx.sh and commit the PTX").isEqualTo(-1);
        System.out.println("kernels.ptx is up to date with kernels.cu (" + committed.size() + " lines, "
                + r.output().lines().filter(l -> l.startsWith("Cuda compilation tools")).findFirst().orElse("nvcc")
                + ")");
    }

    @Test
    void ptxasAssemblesThePtxForEveryArchitecture() throws Exception {
        Path ptxas = CudaToolkit.require("ptxas");
        Path module = CudaToolkit.moduleDir();
        Path ptx = module.resolve(COMMITTED);
        long entries = Pattern.compile("\\.visible \\.entry ").matcher(Files.readString(ptx)).results().count();
        Pattern regs = Pattern.compile("Used (\\d+) registers");
        Pattern smem = Pattern.compile("(\\d+) bytes smem");
        Pattern spill = Pattern.compile("(\\d+) bytes spill stores");
        Pattern compiled = Pattern.compile("Compiling entry function '(\\w+)' for '(\\w+)'");
        List<String> failures = new ArrayList<>();
        StringBuilder table = new StringBuilder("ptxas matrix for kernels.ptx (" + entries + " entries):\n"
                + String.format("  %-7s %-6s %8s %9s %12s %12s%n", "arch", "status", "entries", "max regs",
                "max smem B", "spill B"));
        for (String arch : ARCHS) {
            CudaToolkit.Result r = CudaToolkit.run(module, List.of(ptxas.toString(), "-arch=" + arch, "-v",
                    "-o", "/dev/null", ptx.toString()), List.of(), 300);
            long n = 0;
            Matcher m = compiled.matcher(r.output());
            while (m.find()) {
                if (m.group(2).equals(arch)) {
                    n++;
                }
            }
            int maxRegs = max(regs, r.output());
            int maxSmem = max(smem, r.output());
            int spills = max(spill, r.output());
            boolean ok = r.status() == 0 && n == entries;
            table.append(String.format("  %-7s %-6s %8d %9d %12d %12d%n", arch, ok ? "ok" : "FAIL", n, maxRegs,
                    maxSmem, spills));
            if (!ok) {
                failures.add(arch + " (status " + r.status() + ", " + n + " of " + entries + " entries):\n"
                        + r.output().lines().filter(l -> !l.startsWith("ptxas info") && !l.isBlank()).limit(20)
                        .reduce("", (a, b) -> a + b + "\n"));
            }
        }
        System.out.print(table);
        assertThat(failures).as("ptxas failures").isEmpty();
    }

    private static int max(Pattern p, String text) {
        int best = 0;
        Matcher m = p.matcher(text);
        while (m.find()) {
            best = Math.max(best, Integer.parseInt(m.group(1)));
        }
        return best;
    }
}
