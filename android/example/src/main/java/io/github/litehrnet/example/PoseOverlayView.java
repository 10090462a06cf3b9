/*
 * Copyright 2026 the lite-hrnet authors. Licensed under the Apache License, Version 2.0.
 */
package io.github.litehrnet.example;

import android.content.Context;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.view.View;
import io.github.litehrnet.Pose;
import java.util.Collections;
import java.util.List;

/** Draws poses (image pixels) over a PreviewView that fills the view centered (FILL_CENTER). */
final class PoseOverlayView extends View {
    private static final float MIN_SCORE = 0.3f;
    private final Paint joint = new Paint(Paint.ANTI_ALIAS_FLAG);
    private final Paint limb = new Paint(Paint.ANTI_ALIAS_FLAG);
    private volatile List<Pose> poses = Collections.emptyList();
    private volatile int[][] skeleton = new int[0][];
    private volatile int imageWidth = 1;
    private volatile int imageHeight = 1;

    PoseOverlayView(Context context) {
        super(context);
        joint.setColor(Color.GREEN);
        limb.setColor(Color.rgb(255, 160, 0));
        limb.setStrokeWidth(6f);
    }

    /** Called from the analysis thread with the latest frame's poses. */
    void show(List<Pose> latest, int[][] edges, int width, int height) {
        poses = latest;
        skeleton = edges;
        imageWidth = width;
        imageHeight = height;
        postInvalidate();
    }

    @Override
    protected void onDraw(Canvas canvas) {
        super.onDraw(canvas);
        // FILL_CENTER: the image is scaled to cover the view and centered
        float scale = Math.max(getWidth() / (float) imageWidth, getHeight() / (float) imageHeight);
        float dx = (getWidth() - imageWidth * scale) / 2;
        float dy = (getHeight() - imageHeight * scale) / 2;
        for (Pose pose : poses) {
            for (int[] edge : skeleton) {
                int a = edge[0];
                int b = edge[1];
                if (pose.score(a) > MIN_SCORE && pose.score(b) > MIN_SCORE) {
                    canvas.drawLine(dx + pose.x(a) * scale, dy + pose.y(a) * scale, dx + pose.x(b) * scale,
                            dy + pose.y(b) * scale, limb);
                }
            }
            for (int k = 0; k < pose.size(); k++) {
                if (pose.score(k) > MIN_SCORE) {
                    canvas.drawCircle(dx + pose.x(k) * scale, dy + pose.y(k) * scale, 8f, joint);
                }
            }
        }
    }
}
