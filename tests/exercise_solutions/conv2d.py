import numpy as np

from exercises.conv2d import Conv2d as Skeleton


class Conv2d(Skeleton):
    # Set to (1, 1) by a test to plant the classic bug: col2im without the stride.
    col2im_step = None

    def backward(self, grad_out):
        n, c, h, w = self.input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        grad_mat = grad_out.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)
        self.weight.accumulate_grad((grad_mat @ self.cols.T).reshape(self.weight.data.shape))
        self.bias.accumulate_grad(grad_mat.sum(axis=1))
        grad_cols = self.weight.data.reshape(self.out_channels, -1).T @ grad_mat
        oh, ow = self.out_h, self.out_w
        windows = grad_cols.reshape(c, kh, kw, n, oh, ow).transpose(3, 0, 4, 5, 1, 2)
        sh, sw = self.col2im_step or (sh, sw)
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=grad_out.dtype)
        for i in range(kh):
            for j in range(kw):
                padded[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += windows[..., i, j]
        return padded[:, :, ph:ph + h, pw:pw + w]
