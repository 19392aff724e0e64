/**
 * Axes and titles of the project's own charts (the memory timeline page, the plan SVG, the HTML reports): round
 * ("nice") tick values, byte units and words wrapped into lines. A leaf package: it depends on nothing of the project,
 * so every package that draws a chart can use it without a package cycle.
 *
 * <p>Public types (the API; {@code CorePublicSurfaceTest} holds the code to this list): {@code AxisTicks},
 * {@code TitleWrap}.
 */
package org.tensorbuffer.chart;
