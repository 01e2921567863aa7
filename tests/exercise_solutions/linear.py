from exercises.linear import Linear as Skeleton


class Linear(Skeleton):
    def backward(self, grad_out):
        self.weight.accumulate_grad(grad_out.T @ self.x)
        self.bias.accumulate_grad(grad_out.sum(axis=0))
        return grad_out @ self.weight.data
