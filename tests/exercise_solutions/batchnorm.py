from exercises.batchnorm import BatchNorm1d as Skeleton


class BatchNorm1d(Skeleton):
    def backward(self, grad_out):
        self.weight.accumulate_grad((grad_out * self.xhat).sum(axis=0))
        self.bias.accumulate_grad(grad_out.sum(axis=0))
        grad_xhat = grad_out * self.weight.data
        return self.inv_std * (grad_xhat - grad_xhat.mean(axis=0)
                               - self.xhat * (grad_xhat * self.xhat).mean(axis=0))
