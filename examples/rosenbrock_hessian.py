import torch
from torch.autograd.functional import hessian


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


p = torch.tensor([1.0, 2.0])
H = hessian(rosenbrock, p)
print(H)
print("det(H) =", torch.det(H).item())
