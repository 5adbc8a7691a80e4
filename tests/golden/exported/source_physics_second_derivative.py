import torch

x = torch.linspace(start=0.0, end=1.0, steps=5, requires_grad=True)
u = ((x ** 2) * torch.sin(x))
du = torch.autograd.grad(u, x, torch.ones_like(u), create_graph=True)[0]
d2u = torch.autograd.grad(du, x, torch.ones_like(du), create_graph=True)[0]
residual = (d2u + u)
print("u'  =", du)
print("u'' =", d2u)
print('max |residual| = {:.4f}'.format(torch.max(torch.abs(residual)).item()))
loss = torch.mean((residual ** 2))
loss.backward()
print(loss)
print(x.grad)
