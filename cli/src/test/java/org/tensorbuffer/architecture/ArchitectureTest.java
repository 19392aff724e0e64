package org.tensorbuffer.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.memory.BlockOwner;
import org.tensorbuffer.memory.DeviceAllocator;

/**
 * The module and package rules, checked over the main classes of every module (the cli's test class path holds them
 * all): core depends on no backend, workload or tool; backends depend on no other backend, workload or tool; no
 * package cycles;
 * the allocator internals stay inside core (the memory and plan packages, and the tensor API's package-private raw
 * allocator). Core's public types against its package docs: {@code CorePublicSurfaceTest} in core.
 */
class ArchitectureTest {
    private static final String[] CORE = {"org.tensorbuffer", "org.tensorbuffer.types..", "org.tensorbuffer.device..",
        "org.tensorbuffer.memory..", "org.tensorbuffer.plan..", "org.tensorbuffer.leak..", "org.tensorbuffer.observe..",
        "org.tensorbuffer.meta..", "org.tensorbuffer.chart.."};
    private static final String[] BACKENDS = {"org.tensorbuffer.cpu..", "org.tensorbuffer.cuda..",
        "org.tensorbuffer.metal.."};
    private static final String[] WORKLOADS = {"org.tensorbuffer.llama..", "org.tensorbuffer.einsum.."};
    private static final String[] TOOLS = {"org.tensorbuffer.bench..", "org.tensorbuffer.cli..",
        "org.tensorbuffer.report.."};

    private static final JavaClasses CLASSES = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(location -> !location.contains("jmh_generated"))
            // the modules' test jars (core's TestDevice and reference checks, workloads' test models) are tests too
            .withImportOption(location -> !location.contains("-tests.jar"))
            .importPackages("org.tensorbuffer");

    private static String[] concat(String[]... groups) {
        return java.util.Arrays.stream(groups).flatMap(java.util.Arrays::stream).toArray(String[]::new);
    }

    @Test
    void everyModuleIsImported() {
        org.assertj.core.api.Assertions.assertThat(CLASSES.stream().map(JavaClass::getPackageName).distinct())
                .contains("org.tensorbuffer", "org.tensorbuffer.memory", "org.tensorbuffer.cpu",
                        "org.tensorbuffer.cuda", "org.tensorbuffer.metal", "org.tensorbuffer.llama",
                        "org.tensorbuffer.einsum", "org.tensorbuffer.bench", "org.tensorbuffer.cli");
    }

    @Test
    void coreDependsOnNoBackendWorkloadOrTool() {
        noClasses().that().resideInAnyPackage(CORE)
                .should().dependOnClassesThat().resideInAnyPackage(concat(BACKENDS, WORKLOADS, TOOLS))
                .check(CLASSES);
    }

    @Test
    void backendsDependOnCoreOnly() {
        for (String backend : BACKENDS) {
            noClasses().that().resideInAPackage(backend)
                    .should().dependOnClassesThat().resideInAnyPackage(concat(
                            java.util.Arrays.stream(BACKENDS).filter(b -> !b.equals(backend)).toArray(String[]::new),
                            WORKLOADS, TOOLS))
                    .check(CLASSES);
        }
    }

    @Test
    void noPackageCycles() {
        SliceAssignment byPackage = new SliceAssignment() {
            @Override
            public SliceIdentifier getIdentifierOf(JavaClass c) {
                return c.getPackageName().startsWith("org.tensorbuffer")
                        ? SliceIdentifier.of(c.getPackageName()) : SliceIdentifier.ignore();
            }

            @Override
            public String getDescription() {
                return "packages of org.tensorbuffer";
            }
        };
        slices().assignedFrom(byPackage).should().beFreeOfCycles().check(CLASSES);
    }

    @Test
    void chartAxesAreALeafPackage() {
        noClasses().that().resideInAPackage("org.tensorbuffer.chart..")
                .should().dependOnClassesThat().resideOutsideOfPackages("org.tensorbuffer.chart..", "java..")
                .check(CLASSES);
    }

    @Test
    void allocatorInternalsStayInCore() {
        noClasses().that().resideOutsideOfPackages("org.tensorbuffer", "org.tensorbuffer.memory..",
                        "org.tensorbuffer.plan..")
                .should().dependOnClassesThat().areAssignableTo(DeviceAllocator.class)
                .check(CLASSES);
        classes().that().areAssignableTo(BlockOwner.class)
                .should().resideInAnyPackage("org.tensorbuffer", "org.tensorbuffer.memory..", "org.tensorbuffer.plan..")
                .check(CLASSES);
    }
}
